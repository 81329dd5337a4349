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
lines are asked, so no asked question was seen.

Usage::

    nice -n 10 .venv/bin/python bench/metaqa.py                    # every dev question, zero-shot
    .venv/bin/python bench/metaqa.py --limit 300 --hops 1,2        # a quick run (fixed random sample)
    .venv/bin/python bench/metaqa.py --examples 300 --limit 300    # learn from even lines, ask odd lines
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


def read_questions(path: Path, limit: int | None, seed: int = 0, part: str = "all") -> list[tuple[str, list[str]]]:
    """(question, gold answers) pairs; ``part`` "even"/"odd" keeps even/odd lines (0-based);
    ``limit`` takes a fixed random sample (same for every run)."""
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if "\t" not in line or (part == "even" and i % 2) or (part == "odd" and not i % 2):
            continue
        question, answers = line.split("\t", 1)
        rows.append((question.strip(), [a.strip() for a in answers.split("|") if a.strip()]))
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def open_store(data: Path, store_dir: Path):
    """The MetaQA KB in an on-disk store, imported once and reused."""
    from kg import KnowledgeGraph

    kb = data / "metaqa" / "kb.txt"
    kg = KnowledgeGraph.open(str(store_dir))
    if not kg.has_document("metaqa-kb"):
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
    parser.add_argument("--progress", type=int, default=1000, help="print progress every N questions")
    args = parser.parse_args(argv)

    from reasoning import ask
    from reasoning.question import graph_index, parse_question

    args.store.parent.mkdir(parents=True, exist_ok=True)
    kg = open_store(args.data, args.store)
    started = time.monotonic()
    index = graph_index(kg)
    print(f"graph index: {len(index.labels):,} labels in {time.monotonic() - started:.1f} s", file=sys.stderr)
    ask(kg, "who directed [Kismet]")  # loads the models once, outside the timings
    part = "all"
    if args.examples:
        from reasoning.paraphrases import ExampleBank
        from reasoning.planner import learn_examples, use_examples

        bank = ExampleBank()
        t0 = time.monotonic()
        for hops in [int(h) for h in args.hops.split(",") if h.strip()]:
            pairs = read_questions(args.data / "metaqa" / f"{hops}-hop" / "qa_dev.txt", args.examples, part="even")
            bank, learned, skipped = learn_examples(kg, pairs, bank=bank)
            print(f"learned {learned} wordings from {hops}-hop even lines ({skipped} skipped)", file=sys.stderr)
        use_examples(index, bank)
        print(f"examples learned in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        part = "odd"

    table = []
    errors = open(args.errors, "w", encoding="utf-8") if args.errors else None
    for hops in [int(h) for h in args.hops.split(",") if h.strip()]:
        questions = read_questions(args.data / "metaqa" / f"{hops}-hop" / "qa_dev.txt", args.limit, part=part)
        hits = reach = 0
        latencies = []
        failures = Counter()
        for i, (question, gold) in enumerate(questions, 1):
            gold_set = set(gold)
            t0 = time.perf_counter()
            try:
                result = ask(kg, question, k=args.k)
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
            if errors and not hit:
                errors.write(json.dumps({"hops": hops, "question": question, "gold": gold[:5], "top": top,
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
            "crashes": sum(failures.values()),
        })
    if errors:
        errors.close()

    if args.examples:
        print(f"\nMetaQA dev ODD lines, kgqa ask --method auto, wordings learned from {args.examples} "
              "question/answer pairs per hop count taken from the EVEN dev lines")
    else:
        print("\nMetaQA dev, kgqa ask --method auto (zero-shot: no MetaQA questions used; paraphrases "
              "generated from the graph's relation labels)")
    print(f"{'hops':>4} {'questions':>9} {'Hits@1':>7} {'ceiling':>7} {'gap':>5} {'median ms':>9} {'p95 ms':>7} {'crashes':>7}")
    for row in table:
        print(f"{row['hops']:>4} {row['questions']:>9} {row['hits@1']:>7.1f} {row['ceiling']:>7.1f} "
              f"{row['ceiling'] - row['hits@1']:>5.1f} {row['median_ms']:>9.1f} {row['p95_ms']:>7.1f} {row['crashes']:>7}")
    print("anchors (test split, full KB): EmbedKGQA 97.5/98.8/94.8, NSM 97.1/99.9/98.9")
    kg.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
