"""Re-DocRED dev: how close the pipeline's mentions and entities come to the gold ``vertexSet``.

Runs the default pipeline (``nlp.pipeline.load_pipeline()``) on each document's plain text (tokens
joined by spaces, as ``bench/redocred.py`` does) and compares ``doc._.kgqa_mentions`` /
``doc._.kgqa_entities`` with the gold entity clusters:

(a) mention detection: precision, recall and F1 per gold type, with two matches: *exact* (the same
    character span; a leading "the/a/an" and a trailing "'s" are ignored on both sides) and *overlap*
    (the spans share a character). Our candidates are the ``name``, ``date`` and ``number`` mentions
    (pronouns and nominals are left out: Re-DocRED does not annotate them). Per-type precision puts
    our mentions under the gold type their own type maps to (PERSON -> PER, ORG -> ORG, LOC/NORP ->
    LOC, WORK/EVENT/MISC -> MISC, DATE -> TIME, NUM -> NUM) and counts a match of any gold type;
    per-type recall counts a gold mention of that type found by a mention of any type. The same
    recall for spaCy's NER alone (``doc.ents``, every label) shows what the linker drops;
(b) entity coverage: the share of gold entities with at least one detected mention;
(c) B³ clustering over gold mentions (macro over documents; ``bench.redocred.b_cubed``): each gold
    mention takes the entity of the predicted mention that overlaps it most, else a singleton. Over
    names (TIME/NUM left out, the number ``bench/redocred.py`` prints) and over every gold mention,
    where date and number mentions (cluster None) are grouped by value (the parsed date, else the
    normalised text);
(d) the relation ceiling: the share of gold relation triples whose head and tail entities are both
    covered (overlap), both covered by different predicted entities (what a document-level extractor
    over our entities could reach at best), and both with an exactly detected mention.

    nice -n 10 .venv/bin/python bench/redocred_mentions.py                 # documents 0-399
    nice -n 10 .venv/bin/python bench/redocred_mentions.py --misses 20     # and 20 missed mentions per type

The relation components do not touch mentions, so they are switched off (``--all-components``
runs them too). Prints tables; never asserts. Nothing in the pipeline knows this data set.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from redocred import ROOT, b_cubed, doc_text  # noqa: E402  (also sets the offline environment)

GOLD_TYPES = ("PER", "ORG", "LOC", "TIME", "NUM", "MISC")
#: our mention type -> the gold type it stands for
TO_GOLD = {"PERSON": "PER", "ORG": "ORG", "LOC": "LOC", "NORP": "LOC", "WORK": "MISC", "EVENT": "MISC",
           "MISC": "MISC", "DATE": "TIME", "NUM": "NUM"}
DETECTED_KINDS = ("name", "date", "number")
RELATION_PIPES = ("kgqa_relation_extractor", "kgqa_open_relations", "kgqa_trained_relations", "kgqa_document_relations")
_ARTICLES = ("the ", "a ", "an ", "The ", "A ", "An ")


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """A span without a leading article or a trailing possessive (for the exact match)."""
    piece = text[start:end]
    for art in _ARTICLES:
        if piece.startswith(art) and len(piece) > len(art):
            start, piece = start + len(art), piece[len(art):]
            break
    for pos in (" 's", "'s", " ’s", "’s"):
        if piece.endswith(pos) and len(piece) > len(pos):
            end -= len(pos)
            break
    return start, end


def value_key(kind: str, text: str):
    """Date and number mentions have no cluster: they are grouped by value."""
    from nlp.dates import parse_date
    from nlp.linking import normalise

    if kind == "date":
        parsed = parse_date(text)
        if parsed:
            return ("value", parsed[0])
    return ("value", normalise(text))


def prf(tp_p: int, n_p: int, tp_r: int, n_r: int) -> tuple[float, float, float]:
    p = tp_p / n_p if n_p else 0.0
    r = tp_r / n_r if n_r else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="folder holding redocred/")
    parser.add_argument("--docs", default="0:400", help="document range START:END of dev_revised.json (default 0:400)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--all-components", action="store_true", help="also run the relation components")
    parser.add_argument("--misses", type=int, default=0, help="print this many missed gold mentions per type")
    parser.add_argument("--spurious", type=int, default=0, help="print this many unmatched predicted mentions per type")
    parser.add_argument("--errors", type=int, default=0,
                        help="print this many boundary errors, split entities and wrong merges per type")
    parser.add_argument("--seed", type=int, default=0, help="seed for the printed samples")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from nlp.pipeline import load_pipeline

    lo, hi = (int(x) if x else None for x in args.docs.split(":"))
    docs = json.loads((Path(args.data) / "redocred" / "dev_revised.json").read_text(encoding="utf-8"))[lo:hi]
    started = time.monotonic()
    nlp = load_pipeline()
    disabled = [] if args.all_components else [p for p in RELATION_PIPES if p in nlp.pipe_names]
    load_seconds = time.monotonic() - started

    texts = [doc_text(d["sents"]) for d in docs]
    words = sum(len(s) for d in docs for s in d["sents"])
    n_gold, n_pred = Counter(), Counter()
    hit_gold = {"exact": Counter(), "overlap": Counter(), "ner": Counter()}
    hit_pred = {"exact": Counter(), "overlap": Counter()}
    n_ent, cov_ent = Counter(), {"exact": Counter(), "overlap": Counter()}
    b3 = defaultdict(lambda: [0.0, 0.0, 0])  # scope -> [P sum, R sum, documents]
    n_triples = ceiling = ceiling_distinct = ceiling_exact = 0
    kinds = Counter()
    misses, spurious = defaultdict(list), defaultdict(list)
    boundary, splits, merges = defaultdict(list), defaultdict(list), defaultdict(list)
    started = time.monotonic()
    with nlp.select_pipes(disable=disabled):
        stream = nlp.pipe(((t, i) for i, (t, _) in enumerate(texts)), as_tuples=True, batch_size=args.batch_size)
        for doc, i in stream:
            gold, (text, spans) = docs[i], texts[i]
            # ---- gold mentions as character spans
            gms = []  # (entity index, mention index, type, start, end)
            for vi, vertex in enumerate(gold["vertexSet"]):
                for mi, m in enumerate(vertex):
                    s_tok, e_tok = m["pos"]
                    if m["sent_id"] >= len(spans) or e_tok > len(spans[m["sent_id"]]):
                        continue
                    gms.append((vi, mi, m["type"], spans[m["sent_id"]][s_tok][0], spans[m["sent_id"]][e_tok - 1][1]))
            # ---- our mentions as character spans, with the entity (or value group) they belong to
            pms = []  # (start, end, kind, gold type, group)
            for m in doc._.kgqa_mentions or []:
                kinds[m.kind] += 1
                start, end = doc[m.start].idx, doc[m.end - 1].idx + len(doc[m.end - 1].text)
                if m.cluster is not None:
                    group = ("cluster", m.cluster)
                elif m.kind in ("date", "number"):
                    group = value_key(m.kind, text[start:end])
                else:
                    group = None
                pms.append((start, end, m.kind, TO_GOLD.get(m.type, "MISC"), group))
            detected = [p for p in pms if p[2] in DETECTED_KINDS]
            exact_spans = {trimmed(text, s, e) for s, e, *_ in detected}
            gold_exact = {trimmed(text, s, e) for *_, s, e in gms}
            ents = [(e.start_char, e.end_char) for e in doc.ents]
            # ---- (a) detection
            found_exact, found_overlap = set(), set()
            for vi, mi, typ, s, e in gms:
                n_gold[typ] += 1
                if trimmed(text, s, e) in exact_spans:
                    hit_gold["exact"][typ] += 1
                    found_exact.add(vi)
                if any(ps < e and s < pe for ps, pe, *_ in detected):
                    hit_gold["overlap"][typ] += 1
                    found_overlap.add(vi)
                    if trimmed(text, s, e) not in exact_spans:
                        ours = [text[ps:pe] for ps, pe, *_ in detected if ps < e and s < pe]
                        boundary[typ].append((i, text[s:e], " | ".join(ours)))
                elif len(misses[typ]) < 10_000:
                    misses[typ].append((i, text[s:e], text[max(0, s - 60):e + 60].replace("\n", " ")))
                if any(es < e and s < ee for es, ee in ents):
                    hit_gold["ner"][typ] += 1
            for s, e, kind, typ, _ in detected:
                n_pred[typ] += 1
                if trimmed(text, s, e) in gold_exact:
                    hit_pred["exact"][typ] += 1
                if any(gs < e and s < ge for *_, gs, ge in gms):
                    hit_pred["overlap"][typ] += 1
                elif len(spurious[typ]) < 10_000:
                    spurious[typ].append((i, text[s:e], kind))
            # ---- (b) coverage
            for vi, vertex in enumerate(gold["vertexSet"]):
                typ = vertex[0]["type"]
                n_ent[typ] += 1
                cov_ent["exact"][typ] += vi in found_exact
                cov_ent["overlap"][typ] += vi in found_overlap
            # ---- (c) B3: each gold mention takes the group of the predicted mention overlapping it most
            grouped = [p for p in pms if p[4] is not None]
            g_map, p_map = {}, {}
            for vi, mi, typ, s, e in gms:
                best, best_overlap = None, 0
                for ps, pe, _, _, group in grouped:
                    overlap = min(e, pe) - max(s, ps)
                    if overlap > best_overlap:
                        best, best_overlap = group, overlap
                g_map[(vi, mi)] = vi
                p_map[(vi, mi)] = best if best is not None else ("single", vi, mi)
            typ_of = {(vi, mi): typ for vi, mi, typ, _, _ in gms}
            name_of = {(vi, mi): text[s:e] for vi, mi, _, s, e in gms}
            keys = sorted(g_map)
            for a_i, a in enumerate(keys):
                for b in keys[a_i + 1:]:
                    same_gold, same_pred = g_map[a] == g_map[b], p_map[a] == p_map[b]
                    if same_gold and not same_pred and name_of[a] != name_of[b]:
                        splits[typ_of[a]].append((i, name_of[a], name_of[b]))
                    elif same_pred and not same_gold:
                        merges[typ_of[a]].append((i, name_of[a], f"{name_of[b]} ({typ_of[b]})"))
            scopes = {"names": lambda t: t not in ("TIME", "NUM"), "all": lambda t: True}
            scopes.update({t: (lambda t0: lambda t: t == t0)(t) for t in GOLD_TYPES})
            for scope, keep in scopes.items():
                g = {k: v for k, v in g_map.items() if keep(typ_of[k])}
                if g:
                    p, r = b_cubed(g, p_map)
                    b3[scope][0] += p
                    b3[scope][1] += r
                    b3[scope][2] += 1
            # ---- (d) ceiling: both entities covered, and by different predicted entities
            groups_of = defaultdict(set)
            for k, group in p_map.items():
                if group[0] != "single":
                    groups_of[k[0]].add(group)
            for lab in {(x["h"], x["r"], x["t"]) for x in gold["labels"]}:
                h, _, t = lab
                n_triples += 1
                ceiling_exact += h in found_exact and t in found_exact
                if h in found_overlap and t in found_overlap:
                    ceiling += 1
                    if any(a != b for a in groups_of[h] for b in groups_of[t]):
                        ceiling_distinct += 1
    seconds = time.monotonic() - started

    def pct(x: float) -> str:
        return f"{100 * x:5.1f}"

    print(f"Re-DocRED dev documents {args.docs}: {len(docs)} documents, {words} words; pipeline load "
          f"{load_seconds:.1f} s, {seconds:.1f} s ({words / max(seconds, 1e-9):.0f} words/s)"
          + (f"; off: {', '.join(disabled)}" if disabled else ""))
    print(f"our mentions by kind: {dict(sorted(kinds.items()))}")
    print()
    print("(a) mention detection (name/date/number mentions; exact span and any overlap)")
    print(f"  {'type':6} {'gold':>6} {'ours':>6} | {'exact P':>7} {'R':>5} {'F1':>5} | {'overl P':>7} {'R':>5} {'F1':>5}"
          f" | {'NER R':>5}")
    for typ in ("all", *GOLD_TYPES):
        sel = GOLD_TYPES if typ == "all" else (typ,)
        ng, np_ = sum(n_gold[t] for t in sel), sum(n_pred[t] for t in sel)
        ex = prf(sum(hit_pred["exact"][t] for t in sel), np_, sum(hit_gold["exact"][t] for t in sel), ng)
        ov = prf(sum(hit_pred["overlap"][t] for t in sel), np_, sum(hit_gold["overlap"][t] for t in sel), ng)
        ner = sum(hit_gold["ner"][t] for t in sel) / ng if ng else 0.0
        print(f"  {typ:6} {ng:6d} {np_:6d} | {pct(ex[0]):>7} {pct(ex[1])} {pct(ex[2])} | {pct(ov[0]):>7} "
              f"{pct(ov[1])} {pct(ov[2])} | {pct(ner)}")
    print()
    print("(b) gold entities with at least one detected mention")
    print(f"  {'type':6} {'entities':>8} {'exact':>6} {'overlap':>7}")
    for typ in ("all", *GOLD_TYPES):
        sel = GOLD_TYPES if typ == "all" else (typ,)
        n = sum(n_ent[t] for t in sel)
        print(f"  {typ:6} {n:8d} {pct(sum(cov_ent['exact'][t] for t in sel) / max(1, n)):>6} "
              f"{pct(sum(cov_ent['overlap'][t] for t in sel) / max(1, n)):>7}")
    print()
    print("(c) B³ clustering over gold mentions (macro over documents)")
    print(f"  {'scope':22} {'P':>5} {'R':>5} {'F1':>5}")
    for scope in ("names", "all", *GOLD_TYPES):
        p_sum, r_sum, n = b3[scope]
        p, r = (p_sum / n, r_sum / n) if n else (0.0, 0.0)
        f = 2 * p * r / (p + r) if p + r else 0.0
        label = {"names": "names (no TIME/NUM)", "all": "all (values grouped)"}.get(scope, scope)
        print(f"  {label:22} {pct(p)} {pct(r)} {pct(f)}")
    print()
    print("(d) gold relation triples whose two entities are detected (the end-to-end recall ceiling)")
    print(f"  triples {n_triples}; both entities detected (overlap) {ceiling} ({pct(ceiling / max(1, n_triples))} %), "
          f"as two different predicted entities {ceiling_distinct} ({pct(ceiling_distinct / max(1, n_triples))} %); "
          f"both with an exact mention {ceiling_exact} ({pct(ceiling_exact / max(1, n_triples))} %)")
    rng = random.Random(args.seed)
    for title, table, count in (("missed gold mentions", misses, args.misses),
                                ("predicted mentions overlapping no gold mention", spurious, args.spurious),
                                ("boundary errors: gold mention | our overlapping mentions", boundary, args.errors),
                                ("split: two names of one gold entity in different predicted entities", splits,
                                 args.errors),
                                ("wrong merge: mentions of two gold entities in one predicted entity", merges,
                                 args.errors)):
        if not count:
            continue
        print()
        print(f"{title} (a random {count} per type)")
        for typ in GOLD_TYPES:
            rows = table.get(typ, [])
            for row in rng.sample(rows, min(count, len(rows))):
                print(f"  {typ:5} doc {row[0]:3d}  {row[1]!r:40}  {row[2]!r}")


if __name__ == "__main__":
    main()
