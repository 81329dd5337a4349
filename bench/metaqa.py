"""MetaQA dev benchmark for `kgqa ask`: Hits@1 per hop count, the KB's ceiling, and latency.

Imports ``metaqa/kb.txt`` (format pipe) into a store cached in ``bench/out/metaqa-store`` (re-imported
when missing), asks every dev question through :func:`reasoning.ask` and prints a table:

* Hits@1: the top answer is one of the gold answers;
* ceiling: the share of questions whose gold answers include a node reachable from the topic entity
  within N hops in this KB (about 4% of the original KB is missing, so some answers are unreachable);
* median and 95th-percentile latency per question (parsing, linking, planning, SPARQL, evidence).

By default nothing learns from MetaQA questions (zero-shot): relation paths are matched against
paraphrases the system generates from the graph's own relation labels. With ``--examples N`` the
planner first learns wordings from N question/answer pairs per hop count taken from the EVEN dev lines
(:func:`reasoning.planner.learn_examples`, what ``kgqa train questions`` does) and then only the ODD dev
lines are asked, so no asked question was seen; ``--examples-from first`` learns from the FIRST N lines
instead (the dev files are sorted by kind of question, so few kinds are taught) and asks the other lines.

``--store`` may be a store where ``kgqa train reasoner`` was run (``kgqa import kb.txt --format pipe``
first): ``auto`` then ranks the planner's, the learned wordings' and the GNN reasoner's paths together
(:mod:`reasoning.ranking`). The ranker is fitted (on questions generated from the graph, never on
MetaQA's) before the questions are asked, outside the timings, when the store has none fitted for what
is trained. ``--method gnn`` / ``sparql`` asks one part alone.

Usage::

    nice -n 10 .venv/bin/python bench/metaqa.py                    # every dev question, zero-shot
    .venv/bin/python bench/metaqa.py --limit 300 --hops 1,2        # a quick run (fixed random sample)
    .venv/bin/python bench/metaqa.py --examples 300 --limit 300    # learn from even lines, ask odd lines
    nice -n 10 .venv/bin/python bench/metaqa.py --store S --limit 1000          # S: a store with a trained reasoner
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def read_questions(path: Path, limit: int | None, seed: int = 0, part: str = "all",
                   first: int = 0) -> list[tuple[str, list[str]]]:
    """(question, gold answers) pairs; ``part`` "even"/"odd" keeps even/odd lines (0-based), "first" the
    first ``first`` lines, "rest" the lines after them; ``limit`` takes a fixed random sample (same for every run)."""
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if "\t" not in line or (part == "even" and i % 2) or (part == "odd" and not i % 2):
            continue
        if (part == "first" and i >= first) or (part == "rest" and i < first):
            continue
        question, answers = line.split("\t", 1)
        rows.append((question.strip(), [a.strip() for a in answers.split("|") if a.strip()]))
    if limit and limit < len(rows) and part != "first":
        rows = random.Random(seed).sample(rows, limit)
    return rows


def open_store(data: Path, store_dir: Path):
    """The MetaQA KB in an on-disk store, imported once and reused."""
    from kg import KnowledgeGraph

    kb = data / "metaqa" / "kb.txt"
    kg = KnowledgeGraph.open(str(store_dir))
    if not kg.has_document("metaqa-kb") and not kg.has_document("kb.txt"):  # kb.txt: `kgqa import kb.txt`
        started = time.monotonic()
        report = kg.import_file(kb, "pipe", doc_id="metaqa-kb")
        print(f"imported {report.triples:,} triples in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return kg


def reachable(index, topic_nodes, gold_labels: set[str], hops: int) -> bool:
    """Whether a gold answer is within ``hops`` undirected hops of a topic node (the topic itself excluded)."""
    frontier = set(topic_nodes)
    seen = set(frontier)
    for _ in range(hops):
        nxt = set()
        for node in frontier:
            for _, other in index.out.get(node, ()):
                if other not in seen:
                    nxt.add(other)
            for _, other in index.inn.get(node, ()):
                if other not in seen:
                    nxt.add(other)
        seen |= nxt
        frontier = nxt
    seen -= set(topic_nodes)
    return any(index.label(node) in gold_labels for node in seen)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--store", type=Path, default=ROOT / "bench" / "out" / "metaqa-store")
    parser.add_argument("--hops", default="1,2,3")
    parser.add_argument("--limit", type=int, default=None, help="questions per hop count (random sample)")
    parser.add_argument("--k", type=int, default=1, help="answers (with evidence) asked for per question")
    parser.add_argument("--errors", type=Path, default=None, help="write the missed questions here (JSON lines)")
    parser.add_argument("--examples", type=int, default=0,
                        help="learn wordings from this many question/answer pairs per hop count, taken from the "
                             "even dev lines; then only the odd dev lines are asked")
    parser.add_argument("--examples-from", choices=("even", "first"), default="even",
                        help="even: learn from even lines, ask odd ones; first: learn from the first N lines, ask the rest")
    parser.add_argument("--bank", type=Path, default=None,
                        help="keep the learned wordings in this file and read them from it on the next run "
                             "(same --examples/--examples-from/--hops)")
    parser.add_argument("--unlearned", action="store_true",
                        help="ask the questions --examples would ask, without learning anything (the baseline)")
    parser.add_argument("--method", default="auto", help="auto (default), sparql, gnn, rules")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sample of questions")
    parser.add_argument("--progress", type=int, default=1000, help="print progress every N questions")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared CPU, more threads are several times slower)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)

    from reasoning import ask
    from reasoning.question import graph_index, parse_question

    args.store.parent.mkdir(parents=True, exist_ok=True)
    kg = open_store(args.data, args.store)
    started = time.monotonic()
    index = graph_index(kg)
    print(f"graph index: {len(index.labels):,} labels in {time.monotonic() - started:.1f} s", file=sys.stderr)
    part = "all"
    if args.examples and args.unlearned:  # the same questions as with --examples, nothing learned
        part = "odd" if args.examples_from == "even" else "rest"
    elif args.examples:
        from reasoning.paraphrases import ExampleBank
        from reasoning.planner import learn_examples, use_examples

        bank = ExampleBank()
        t0 = time.monotonic()
        taught = "even" if args.examples_from == "even" else "first"
        if args.bank and args.bank.is_file():  # learned by an earlier run with the same options
            bank = ExampleBank.load(args.bank)
            print(f"read {len(bank)} learned wordings from {args.bank}", file=sys.stderr)
        else:
            for hops in [int(h) for h in args.hops.split(",") if h.strip()]:
                pairs = read_questions(args.data / "metaqa" / f"{hops}-hop" / "qa_dev.txt", args.examples,
                                       part=taught, first=args.examples)
                bank, learned, skipped = learn_examples(kg, pairs, bank=bank)
                print(f"learned {learned} wordings from {hops}-hop {taught} lines ({skipped} skipped)", file=sys.stderr)
            if args.bank:
                bank.save(args.bank)
        use_examples(index, bank)
        print(f"examples learned in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        part = "odd" if args.examples_from == "even" else "rest"
    ranker_info = ""
    if args.method == "auto":
        from reasoning.ranking import load_ranker, trained_gnn

        t0 = time.monotonic()
        gnn = trained_gnn(kg)
        ranker = load_ranker(kg, index, gnn, log=lambda m: print(m, file=sys.stderr))
        if ranker is not None:
            ranker_info = (f"; ranker over {'planner, GNN' if gnn is not None else 'planner'}"
                           f"{', learned wordings' if args.examples else ''}: fitted on {ranker.report.get('usable')} "
                           f"generated questions ({ranker.report.get('seconds')} s when fitted)")
            print(f"ranker ready in {time.monotonic() - t0:.0f} s: {ranker.report}", file=sys.stderr)
    ask(kg, "who directed [Kismet]", method=args.method)  # loads the models once, outside the timings

    table = []
    errors = open(args.errors, "w", encoding="utf-8") if args.errors else None
    for hops in [int(h) for h in args.hops.split(",") if h.strip()]:
        questions = read_questions(args.data / "metaqa" / f"{hops}-hop" / "qa_dev.txt", args.limit, part=part,
                                   seed=args.seed, first=args.examples)
        hits = reach = 0
        latencies = []
        failures = Counter()
        methods = Counter()
        for i, (question, gold) in enumerate(questions, 1):
            gold_set = set(gold)
            t0 = time.perf_counter()
            try:
                result = ask(kg, question, k=args.k, method=args.method)
                top = result.top
            except Exception as err:  # a benchmark counts a crash as a miss and goes on
                top, result = None, None
                failures[type(err).__name__] += 1
            latencies.append(time.perf_counter() - t0)
            hit = top in gold_set
            hits += hit
            parsed = parse_question(kg, question)
            nodes = parsed.topic.nodes[:1] if parsed.topic else []
            ok = reachable(index, nodes, gold_set, hops)
            reach += ok
            methods[getattr(result, "method", None) or "crash"] += 1
            if errors and not hit:
                errors.write(json.dumps({"hops": hops, "question": question, "gold": gold[:5], "top": top,
                                         "method": getattr(result, "method", None),
                                         "reachable": ok, "sparql": result.sparql if result else None,
                                         "warnings": result.warnings if result else None}) + "\n")
            if args.progress and i % args.progress == 0:
                print(f"  {hops}-hop {i}/{len(questions)} hits@1 {100 * hits / i:.1f} ceiling "
                      f"{100 * reach / i:.1f}", file=sys.stderr)
        n = len(questions) or 1
        latencies.sort()
        table.append({
            "hops": hops, "questions": len(questions), "hits@1": 100 * hits / n, "ceiling": 100 * reach / n,
            "median_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
            "p95_ms": 1000 * latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else 0.0,
            "crashes": sum(failures.values()), "methods": dict(methods.most_common(4)),
        })
    if errors:
        errors.close()

    if args.examples and args.unlearned:
        print(f"\nMetaQA dev, the questions of --examples {args.examples} --examples-from {args.examples_from}, "
              f"kgqa ask --method {args.method}, NOTHING learned{ranker_info}")
    elif args.examples and args.examples_from == "even":
        print(f"\nMetaQA dev ODD lines, kgqa ask --method {args.method}, wordings learned from {args.examples} "
              f"question/answer pairs per hop count taken from the EVEN dev lines{ranker_info}")
    elif args.examples:
        print(f"\nMetaQA dev lines after the first {args.examples}, kgqa ask --method {args.method}, wordings "
              f"learned from the FIRST {args.examples} dev lines per hop count{ranker_info}")
    else:
        print(f"\nMetaQA dev, kgqa ask --method {args.method} (no MetaQA questions used; paraphrases "
              f"generated from the graph's relation labels{ranker_info})")
    print(f"store: {args.store}")
    print(f"{'hops':>4} {'questions':>9} {'Hits@1':>7} {'ceiling':>7} {'gap':>5} {'median ms':>9} {'p95 ms':>7} {'crashes':>7}")
    for row in table:
        print(f"{row['hops']:>4} {row['questions']:>9} {row['hits@1']:>7.1f} {row['ceiling']:>7.1f} "
              f"{row['ceiling'] - row['hits@1']:>5.1f} {row['median_ms']:>9.1f} {row['p95_ms']:>7.1f} {row['crashes']:>7}"
              f"  {row['methods']}")
    print("anchors (test split, full KB): EmbedKGQA 97.5/98.8/94.8, NSM 97.1/99.9/98.9")
    kg.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
