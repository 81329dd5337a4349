"""Questions over a graph built from text: accuracy per question kind.

Builds a graph from the small corpus in ``bench/data/textqa/corpus`` (fourteen short documents on the
history of computing, written for kgqa) with the extraction pipeline (:mod:`nlp.pipeline`), then asks
``bench/data/textqa/questions.tsv`` (``kind<TAB>question<TAB>answer|answer``) through
:func:`reasoning.ask` and prints accuracy per kind. A question is right when:

* ``list``: every expected answer is among the answers;
* ``set``: the answers are exactly the expected ones (nothing of another type mixed in);
* ``count`` / ``yesno``: the top answer is the expected number / ``yes`` or ``no``;
* ``unknown``: the answer list is empty (the graph does not know);
* every other kind: the top answer is one of the expected answers.

Usage::

    .venv/bin/python bench/textqa.py [--verbose]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HERE = ROOT / "bench" / "data" / "textqa"


def build_graph(corpus: Path):
    """An in-memory graph built from every ``*.txt`` in ``corpus`` with the full pipeline."""
    from kg import KnowledgeGraph
    from nlp.pipeline import extract, load_pipeline

    nlp = load_pipeline()
    kg = KnowledgeGraph.open("memory")
    for path in sorted(corpus.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        found = extract(nlp, text, path.name, kg=kg)
        kg.add_document(path.name, found.facts, entities=found.entities, relations=found.relations,
                        text=text, extractor="kgqa-pipeline")
    return kg


def read_questions(path: Path) -> list[tuple[str, str, list[str]]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, question, answers = (line.split("\t") + ["", ""])[:3]
        rows.append((kind, question, [a for a in answers.split("|") if a]))
    return rows


def correct(kind: str, expected: list[str], labels: list[str]) -> bool:
    if kind == "unknown":
        return not labels
    if not labels:
        return False
    if kind == "list":
        return set(expected) <= set(labels)
    if kind == "set":
        return set(expected) == set(labels)
    return labels[0] in expected


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus")
    parser.add_argument("--questions", type=Path, default=HERE / "questions.tsv")
    parser.add_argument("--verbose", action="store_true", help="print every question with its answers")
    args = parser.parse_args(argv)

    from reasoning import ask

    started = time.monotonic()
    kg = build_graph(args.corpus)
    print(f"built {len(kg):,} triples from {len(kg.documents())} documents in "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)
    by_kind = defaultdict(lambda: [0, 0])
    for kind, question, expected in read_questions(args.questions):
        result = ask(kg, question, k=10)
        labels = result.labels()
        ok = correct(kind, expected, labels)
        by_kind[kind][0] += ok
        by_kind[kind][1] += 1
        if args.verbose or not ok:
            mark = "ok  " if ok else "MISS"
            print(f"{mark} [{kind}] {question} -> {labels[:5]} (expected {expected})")
            if not ok and result.warnings:
                print(f"       notes: {result.warnings}")
    total = [sum(v[0] for v in by_kind.values()), sum(v[1] for v in by_kind.values())]
    print(f"\n{'kind':<11} {'right':>5} {'asked':>5} {'accuracy':>8}")
    for kind, (right, asked) in by_kind.items():
        print(f"{kind:<11} {right:>5} {asked:>5} {100 * right / asked:>7.0f}%")
    print(f"{'all':<11} {total[0]:>5} {total[1]:>5} {100 * total[0] / max(1, total[1]):>7.0f}%")
    kg.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
