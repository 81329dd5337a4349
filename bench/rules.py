"""Rule engine benchmark: RDFS and OWL RL closure on generated graphs, against owlrl and reasonable.

    nice -n 10 .venv/bin/python bench/rules.py --sizes 20000 --timeout 900
    nice -n 10 .venv/bin/python bench/rules.py --sizes 100000 --skip-owlrl

For each size, a random ontology + instance graph is generated with a fixed seed (class and
property hierarchies, domains and ranges, inverse / symmetric / transitive properties, equivalent
classes and properties, small owl:sameAs groups, some literals). Each profile (``rdfs``,
``owl-rl``) is computed by

* kgqa: the closure alone (``reasoning.rules.evaluate`` on the triples as the store hands them
  over), then the whole ``kgqa rules apply --rdfs|--owl-rl --store DIR --json`` command as its own
  process on a store folder holding the graph (interpreter start, read, closure, conclusions and
  derivation records written, flushed): its wall time, and the command's own in-process total; both
  as ratios to the closure alone ("start-up and exit" is the wall time less that total), and the
  floor any such command has here: a process that only imports what the command imports, plus a
  bare pyoxigraph bulk load of just the conclusions, plus the closure (reading the asserted facts
  left out), also as a ratio to the closure. The same
  command again must write nothing (and skips the closure: same facts and rules), and after deleting 100
  random asserted facts its inferred graph must be exactly the closure of what is left,
* owlrl (``DeductiveClosure(RDFS_Semantics | OWLRL_Semantics).expand`` on an rdflib Graph, in a
  child process killed after ``--timeout`` seconds),
* reasonable (Rust OWL 2 RL, ``PyReasoner.from_graph`` + ``reason``; OWL RL only, so it is timed
  for both rows but compared on the ``owl-rl`` row only). Its column is ``reason()`` alone, without
  loading the graph into it; kgqa's column includes numbering the terms.

With ``--repeat N`` kgqa and reasonable run N times, interleaved, and the best time of each is
kept: on a shared machine the load changes from one minute to the next.

The entailments are CHECKED: the inferred triples of each engine (its output minus the input) are
compared on the fragment all compute. Left out of the comparison, as documented differences: triples
about the RDF/RDFS/OWL/XSD vocabulary itself or concluding a vocabulary class (axiomatic triples,
``x rdf:type rdfs:Resource``, ``p rdf:type rdf:Property``, ``C rdfs:subClassOf owl:Thing``, datatype
triples), reflexive ``sameAs`` / ``subClassOf`` / ``subPropertyOf`` / ``equivalentClass`` /
``equivalentProperty`` triples (the other engines state them for every class/property/resource; kgqa
does not materialise eq-ref, scm-cls, scm-op, rdfs6, rdfs10), triples with a literal subject, and
triples whose predicate is an OWL/RDF(S) term outside kgqa's subset. The numbers of triples each
side has alone in the compared fragment are printed, with an example; "same" means equal sets.

Prints a table; never asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EX = "http://bench.kgqa.dev/"
W3C = ("http://www.w3.org/1999/02/22-rdf-syntax-ns#", "http://www.w3.org/2000/01/rdf-schema#",
       "http://www.w3.org/2002/07/owl#", "http://www.w3.org/2001/XMLSchema#")


def generate_graph(n_triples: int, seed: int = 7) -> list:
    """About ``n_triples`` asserted triples (rdflib terms): an ontology and instances using it."""
    from rdflib import OWL, RDF, RDFS, Literal, URIRef

    rng = random.Random(seed)

    def C(i):
        return URIRef(f"{EX}class/C{i}")

    def P(i):
        return URIRef(f"{EX}prop/p{i}")

    def E(i):
        return URIRef(f"{EX}ent/e{i}")

    out = []
    n_classes = max(40, n_triples // 250)
    for i in range(1, n_classes):  # a random class tree, 10% of classes with a second parent
        out.append((C(i), RDFS.subClassOf, C(rng.randrange(0, i))))
        if rng.random() < 0.1 and i > 2:
            out.append((C(i), RDFS.subClassOf, C(rng.randrange(0, i))))
    for i in range(0, n_classes - 1, 37):
        out.append((C(i), OWL.equivalentClass, URIRef(f"{EX}class/Alt{i}")))
    plain, trans, symm, inv = list(range(0, 28)), [28, 29, 30], [31, 32, 33], [(34, 35), (36, 37), (38, 39)]
    for i in plain[1:]:
        if rng.random() < 0.5:
            out.append((P(i), RDFS.subPropertyOf, P(rng.randrange(0, i))))
        if rng.random() < 0.5:
            out.append((P(i), RDFS.domain, C(rng.randrange(0, n_classes))))
        if rng.random() < 0.5:
            out.append((P(i), RDFS.range, C(rng.randrange(0, n_classes))))
    out += [(P(i), RDF.type, OWL.TransitiveProperty) for i in trans]
    out += [(P(i), RDF.type, OWL.SymmetricProperty) for i in symm]
    out += [(P(a), OWL.inverseOf, P(b)) for a, b in inv]
    out.append((P(3), OWL.equivalentProperty, URIRef(f"{EX}prop/alias3")))
    n_ent = max(100, n_triples // 8)
    for e in range(n_ent):
        out.append((E(e), RDF.type, C(rng.randrange(0, n_classes))))
        if rng.random() < 0.3:
            out.append((E(e), RDFS.label, Literal(f"entity {e}")))
    for e in range(0, n_ent, 150):  # sameAs groups of 2 or 3
        out.append((E(e), OWL.sameAs, URIRef(f"{EX}alias/a{e}")))
        if rng.random() < 0.3:
            out.append((URIRef(f"{EX}alias/a{e}"), OWL.sameAs, URIRef(f"{EX}alias/b{e}")))
    seen = set(out)
    while len(out) < n_triples:
        r = rng.random()
        if r < 0.08:  # transitive edges inside groups of 12 entities: chains, bounded closure
            g = rng.randrange(0, n_ent // 12) * 12
            a = g + rng.randrange(0, 11)
            t = (E(a), P(rng.choice(trans)), E(a + 1 + rng.randrange(0, min(2, 11 - (a - g)))))
        elif r < 0.15:
            t = (E(rng.randrange(n_ent)), P(rng.choice(symm)), E(rng.randrange(n_ent)))
        elif r < 0.25:
            t = (E(rng.randrange(n_ent)), P(rng.choice([x for pair in inv for x in pair])), E(rng.randrange(n_ent)))
        else:
            t = (E(rng.randrange(n_ent)), P(rng.choice(plain)), E(rng.randrange(n_ent)))
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


# ---------------------------------------------------------------------- comparison
_KEEP_W3C_PREDICATES = {
    "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>", "<http://www.w3.org/2000/01/rdf-schema#subClassOf>",
    "<http://www.w3.org/2000/01/rdf-schema#subPropertyOf>", "<http://www.w3.org/2000/01/rdf-schema#domain>",
    "<http://www.w3.org/2000/01/rdf-schema#range>", "<http://www.w3.org/2002/07/owl#sameAs>",
    "<http://www.w3.org/2002/07/owl#equivalentClass>", "<http://www.w3.org/2002/07/owl#equivalentProperty>",
    "<http://www.w3.org/2002/07/owl#inverseOf>", "<http://www.w3.org/2000/01/rdf-schema#label>",
}
_REFLEXIVE = {"<http://www.w3.org/2002/07/owl#sameAs>", "<http://www.w3.org/2000/01/rdf-schema#subClassOf>",
              "<http://www.w3.org/2000/01/rdf-schema#subPropertyOf>", "<http://www.w3.org/2002/07/owl#equivalentClass>",
              "<http://www.w3.org/2002/07/owl#equivalentProperty>"}


def _w3c(term: str) -> bool:
    return term.startswith("<") and term[1:].startswith(W3C)


def comparable(triples) -> set:
    """The part of a set of inferred N-Triples triples that every engine is expected to compute."""
    out = set()
    for s, p, o in triples:
        if s[0] == '"' or _w3c(s) or _w3c(o):
            continue
        if _w3c(p) and p not in _KEEP_W3C_PREDICATES:
            continue
        if s == o and p in _REFLEXIVE:
            continue
        out.add((s, p, o))
    return out


def as_nt(triples) -> set:
    from reasoning.rules.engine import nt

    return {(nt(s), nt(p), nt(o)) for s, p, o in triples}


def agreement(ours: set, theirs: set) -> str:
    if ours == theirs:
        return "same"
    from collections import Counter

    def by_predicate(triples) -> str:
        counts = Counter(p.rsplit("#", 1)[-1].rsplit("/", 1)[-1].rstrip(">") for _, p, _ in triples)
        return ", ".join(f"{n} {p}" for p, n in counts.most_common(4))

    only_ours, only_theirs = ours - theirs, theirs - ours
    text = f"kgqa-only {len(only_ours)} [{by_predicate(only_ours)}], other-only {len(only_theirs)} [{by_predicate(only_theirs)}]"
    example = next(iter(sorted(only_ours or only_theirs)))
    return text + f"; e.g. {' '.join(x.replace(EX, 'ex:') for x in example)}"


# ---------------------------------------------------------------------- engines
def run_kgqa(triples, profile: str):
    from reasoning.rules import OWL_RL_RULES, RDFS_RULES, evaluate
    from reasoning.rules.engine import nt

    rules = OWL_RL_RULES if profile == "owl-rl" else RDFS_RULES
    facts = [(nt(s), nt(p), nt(o)) for s, p, o in triples]  # the form the store dump gives
    t = time.perf_counter()
    closure = evaluate(facts, rules)
    seconds = time.perf_counter() - t
    return seconds, set(closure.inferred()), closure


def _kgqa_cli(*args) -> tuple[float, str]:
    """Run ``kgqa ARGS`` as its own process; (wall seconds, stdout)."""
    exe = Path(sys.executable).with_name("kgqa")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ui.cli"]
    t = time.perf_counter()
    done = subprocess.run(cmd + list(args), cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"kgqa {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return seconds, done.stdout


def run_kgqa_process(triples, profile: str, closure, *, retract: int = 100, seed: int = 7) -> dict:
    """``kgqa rules apply`` as a whole process on a store folder (startup, read, closure, writes).

    Then: the same command again (nothing changed: it must write nothing), and after deleting
    ``retract`` random asserted facts (the retraction path), checking that the inferred graph is
    exactly the closure of what is left.
    """
    import pyoxigraph as ox

    from kg import KnowledgeGraph
    from kg.namespaces import DERIVATION_GRAPH, INFERRED_GRAPH
    from kg.terms import to_ox
    from reasoning.rules import OWL_RL_RULES, RDFS_RULES, evaluate
    from reasoning.rules.derivations import _graph_lines
    from reasoning.rules.engine import nt

    flag = "--owl-rl" if profile == "owl-rl" else "--rdfs"
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        with KnowledgeGraph.open(store) as kg:  # the asserted facts; setup, not timed
            kg.store.bulk_extend([ox.Quad(to_ox(s), to_ox(p), to_ox(o), ox.DefaultGraph()) for s, p, o in triples])
        out["help"], _ = _kgqa_cli("rules", "apply", "--help")
        # the start-up floor: a process that only imports what the command imports (Typer and the
        # pydantic it coerces options with, rdflib through kg, pyoxigraph, the rule engine)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import typer._adapters, ui.cli, kg.graph, reasoning.rules"],
                       cwd=ROOT, check=True)
        out["imports"] = time.perf_counter() - t
        out["process"], text = _kgqa_cli("rules", "apply", flag, "--store", store, "--json")
        out["report"] = json.loads(text)
        out["again"], text = _kgqa_cli("rules", "apply", flag, "--store", store, "--json")
        again = json.loads(text)
        out["again_writes"] = again["added"] + again["retracted"]
        out["again_unchanged"] = bool(again.get("unchanged"))  # closure skipped: same facts and rules
        with KnowledgeGraph.open(store) as kg:
            stored = set(_graph_lines(kg, INFERRED_GRAPH))
            out["same_as_closure"] = stored == {" ".join(t) for t in closure.inferred()}
            out["quads_inferred"] = len(stored)
            out["quads_derivations"] = sum(1 for _ in kg.store.quads(ox.NamedNode(str(DERIVATION_GRAPH))))
            gone = random.Random(seed).sample(range(len(triples)), min(retract, len(triples)))
            gone_set = set(gone)
            kg.store.update("DELETE DATA {\n" + " .\n".join(
                " ".join(nt(x) for x in triples[i]) for i in gone) + " .\n}")
        # the store's floor: bare pyoxigraph bulk-loading just the conclusions into a copy of the graph
        bare = ox.Store(os.path.join(tmp, "bare"))
        bare.bulk_extend([ox.Quad(to_ox(s), to_ox(p), to_ox(o), ox.DefaultGraph()) for s, p, o in triples])
        data = "".join(f"{s} {p} {o} .\n" for s, p, o in closure.inferred()).encode()
        t = time.perf_counter()
        bare.bulk_load(data, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(str(INFERRED_GRAPH)))
        bare.flush()
        out["bare_write"] = time.perf_counter() - t
        del bare
        out["retract_n"] = len(gone)
        out["retract"], text = _kgqa_cli("rules", "apply", flag, "--store", store, "--json")
        out["retract_report"] = json.loads(text)
        left = [tuple(nt(x) for x in t) for i, t in enumerate(triples) if i not in gone_set]
        expected = {" ".join(t) for t in evaluate(left, OWL_RL_RULES if profile == "owl-rl" else RDFS_RULES).inferred()}
        with KnowledgeGraph.open(store) as kg:
            out["retract_exact"] = set(_graph_lines(kg, INFERRED_GRAPH)) == expected
    return out


def run_reasonable(triples):
    import rdflib
    import reasonable

    g = rdflib.Graph()
    for t in triples:
        g.add(t)
    r = reasonable.PyReasoner()
    t0 = time.perf_counter()
    r.from_graph(g)
    t1 = time.perf_counter()
    out = r.reason()
    t2 = time.perf_counter()
    inferred = as_nt(out) - as_nt(triples)
    return t2 - t1, t2 - t0, inferred


def owlrl_child(size: int, seed: int, profile: str, out: str) -> None:
    """Runs in a child process: owlrl closure of the generated graph, inferred triples to ``out``."""
    import owlrl
    import rdflib

    triples = generate_graph(size, seed)
    g = rdflib.Graph()
    for t in triples:
        g.add(t)
    before = set(g)
    semantics = owlrl.OWLRL_Semantics if profile == "owl-rl" else owlrl.RDFS_Semantics
    t = time.perf_counter()
    owlrl.DeductiveClosure(semantics).expand(g)
    seconds = time.perf_counter() - t
    new = rdflib.Graph()
    for tr in g:
        # literal subjects (generalised RDF) are left out of the comparison and are not N-Triples
        if tr not in before and not isinstance(tr[0], rdflib.Literal):
            new.add(tr)
    new.serialize(out, format="nt", encoding="utf-8")
    Path(out + ".seconds").write_text(str(seconds))


def run_owlrl(size: int, seed: int, profile: str, timeout: float):
    import pyoxigraph as ox

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "owlrl.nt")
        cmd = [sys.executable, __file__, "--owlrl-child", str(size), str(seed), profile, out]
        try:
            subprocess.run(cmd, timeout=timeout, check=True, stdout=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return None, None
        except subprocess.CalledProcessError as err:
            print(f"owlrl failed: {err}", file=sys.stderr)
            return None, None
        seconds = float(Path(out + ".seconds").read_text())
        inferred = {(str(t.subject), str(t.predicate), str(t.object))
                    for t in ox.parse(path=out, format=ox.RdfFormat.N_TRIPLES)}
        return seconds, inferred


# ---------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    ap.add_argument("--profiles", nargs="+", default=["rdfs", "owl-rl"], choices=["rdfs", "owl-rl"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds before owlrl is stopped")
    ap.add_argument("--repeat", type=int, default=1,
                    help="time kgqa and reasonable this many times, interleaved, and keep the best (shared machines)")
    ap.add_argument("--skip-owlrl", action="store_true")
    ap.add_argument("--skip-store", action="store_true", help="skip the end-to-end run on a store")
    ap.add_argument("--owlrl-child", nargs=4, metavar=("SIZE", "SEED", "PROFILE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.owlrl_child:
        size, seed, profile, out = args.owlrl_child
        owlrl_child(int(size), int(seed), profile, out)
        return

    rows = []
    for size in args.sizes:
        triples = generate_graph(size, args.seed)
        for profile in args.profiles:
            ours_s, r_reason, r_total = float("inf"), float("inf"), float("inf")
            for rep in range(max(1, args.repeat)):
                seconds, ours_inf, closure = run_kgqa(triples, profile)
                ours_s = min(ours_s, seconds)
                if rep < args.repeat - 1:
                    del closure
                reasonable_result = run_reasonable(triples)
                r_reason, r_total = min(r_reason, reasonable_result[0]), min(r_total, reasonable_result[1])
            r_inf = reasonable_result[2]
            ours_cmp = comparable(ours_inf)
            row = {"size": len(triples), "profile": profile, "kgqa": ours_s, "inferred": len(ours_inf),
                   "rounds": closure.iterations, "compared": len(ours_cmp)}
            if not args.skip_store:
                proc = run_kgqa_process(triples, profile, closure, seed=args.seed)
                rep = proc["report"]
                row["store"] = proc["process"]
                row["apply"] = rep["seconds"]
                row["floor"] = proc["imports"] + proc["bare_write"] + row["kgqa"]
                row["store_detail"] = (
                    f"`kgqa rules apply` {proc['process']:.2f} s wall (start-up and exit "
                    f"{proc['process'] - rep['seconds']:.2f} + read "
                    f"{rep['seconds_load']:.2f} + closure {rep['seconds_closure']:.2f} + write {rep['seconds_write']:.2f}); "
                    f"`--help` {proc['help']:.2f} s; imports alone {proc['imports']:.2f} s; "
                    f"bare pyoxigraph bulk load of the conclusions alone {proc['bare_write']:.2f} s; "
                    f"floor (imports + bare load + closure) {row['floor']:.2f} s = {row['floor'] / row['kgqa']:.1f}x the closure; "
                    f"{proc['quads_inferred']:,} inferred + {proc['quads_derivations']:,} derivation quads "
                    f"({(proc['quads_inferred'] + proc['quads_derivations']) / max(1, proc['quads_inferred']):.2f} per conclusion); "
                    f"store = closure: {'yes' if proc['same_as_closure'] else 'NO'}; again {proc['again']:.2f} s "
                    f"({proc['again_writes']} writes, closure {'skipped' if proc['again_unchanged'] else 'recomputed'}); "
                    f"{proc['retract_n']} facts deleted: {proc['retract']:.2f} s, "
                    f"-{proc['retract_report']['retracted']:,} +{proc['retract_report']['added']:,}, "
                    f"exact: {'yes' if proc['retract_exact'] else 'NO'}")
                row["store_ok"] = proc["same_as_closure"] and proc["retract_exact"] and proc["again_writes"] == 0
            del closure
            row["reasonable"] = r_reason
            row["reasonable_total"] = r_total
            row["vs_reasonable"] = agreement(ours_cmp, comparable(r_inf)) if profile == "owl-rl" else "n/a (OWL RL only)"
            if args.skip_owlrl:
                row["owlrl"], row["vs_owlrl"] = None, "skipped"
            else:
                o_s, o_inf = run_owlrl(size, args.seed, profile, args.timeout)
                row["owlrl"] = o_s
                row["vs_owlrl"] = agreement(ours_cmp, comparable(o_inf)) if o_inf is not None else f">{args.timeout:.0f} s"
            rows.append(row)
            print_row(row, args.timeout)
    print()
    print_table(rows, args.timeout)


def _fmt(s, timeout):
    return f">{timeout:.0f}" if s is None else f"{s:.2f}"


def print_row(row, timeout) -> None:
    print(f"# {row['size']:,} triples {row['profile']}: kgqa {row['kgqa']:.2f} s "
          f"({row['inferred']:,} inferred, {row['rounds']} rounds), reasonable {row['reasonable']:.2f} s, "
          f"owlrl {'skipped' if row['vs_owlrl'] == 'skipped' else _fmt(row['owlrl'], timeout) + ' s'}; "
          f"store: {row.get('store_detail', '-')}", flush=True)
    print(f"#   vs owlrl: {row['vs_owlrl']}; vs reasonable: {row['vs_reasonable']}", flush=True)


def print_table(rows, timeout) -> None:
    head = ("| triples | profile | inferred (compared) | closure s | `kgqa rules apply` s | ÷ closure "
            "| apply in-process s | ÷ closure | floor ÷ closure | reasonable s | closure ÷ reasonable | owlrl s | owlrl ÷ process "
            "| same as owlrl | same as reasonable | store exact |")
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for r in rows:
        base = r.get("store", r["kgqa"])  # owlrl against the whole process when it ran
        if r["vs_owlrl"] == "skipped":
            x_owlrl, owlrl_s = "-", "-"
        elif r["owlrl"] is not None:
            x_owlrl, owlrl_s = f"{r['owlrl'] / base:.0f}×", f"{r['owlrl']:.2f}"
        else:
            x_owlrl, owlrl_s = f">{timeout / base:.0f}×", f">{timeout:.0f}"
        if "store" in r:
            proc = [f"{r['store']:.2f}", f"{r['store'] / r['kgqa']:.2f}", f"{r['apply']:.2f}",
                    f"{r['apply'] / r['kgqa']:.2f}", f"{r['floor'] / r['kgqa']:.2f}"]
        else:
            proc = ["-"] * 5
        cells = [f"{r['size']:,}", r["profile"], f"{r['inferred']:,} ({r['compared']:,})", f"{r['kgqa']:.2f}",
                 *proc, f"{r['reasonable']:.2f}", f"{r['kgqa'] / r['reasonable']:.2f}", owlrl_s, x_owlrl,
                 r["vs_owlrl"], r["vs_reasonable"], ("yes" if r["store_ok"] else "NO") if "store_ok" in r else "-"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
