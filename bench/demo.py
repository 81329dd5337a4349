"""The demo: ``demo/corpus`` built as ``make run`` builds it, then every question of ``demo/questions.txt``.

``demo/questions.txt`` holds ``question<TAB>answer|answer`` lines under ``# within one sentence`` /
``# across sentences`` headers. A question is right when the top answer of :func:`reasoning.ask`
is one of its answers (names compared normalised; a date matches the same date, or the year when
only a year is given). Prints each miss and the share right per block; never asserts.

    nice -n 10 .venv/bin/python bench/demo.py            # the default pipeline (document-level model)
    nice -n 10 .venv/bin/python bench/demo.py --fast     # the sentence-level pipeline
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def read_questions(path: Path) -> list[tuple[str, str, list[str]]]:
    """``(block, question, answers)`` rows; the block is the last ``#`` header line's text."""
    rows, block = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            text = line.lstrip("# ").strip()
            if len(text) < 60:  # block headers are short; the file's format note is not one
                block = text
            continue
        if "\t" not in line:
            continue
        question, answers = line.split("\t", 1)
        rows.append((block, question.strip(), [a.strip() for a in answers.split("|") if a.strip()]))
    return rows


def is_right(label: str | None, expected: list[str]) -> bool:
    """Whether an answer label is one of the expected answers.

    >>> is_right("1968-07-18", ["July 18, 1968"]), is_right("1968", ["July 18, 1968|1968".split("|")[1]])
    (True, True)
    >>> is_right("Gordon Moore", ["Robert Noyce", "gordon moore"]), is_right(None, ["x"])
    (True, False)
    """
    from nlp.dates import parse_date
    from nlp.linking import normalise

    if not label:
        return False
    for want in expected:
        if normalise(label) == normalise(want):
            return True
        got, wanted = parse_date(label), parse_date(want)
        if got and wanted and (got[0] == wanted[0] or (wanted[1] == "gYear" and got[0][:4] == wanted[0])):
            return True
    return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "demo" / "corpus")
    parser.add_argument("--questions", type=Path, default=ROOT / "demo" / "questions.txt",
                        help="default: the demo's questions; bench/data/demo/questions_all.txt: all 128 written")
    parser.add_argument("--fast", action="store_true", help="build with kgqa build --fast")
    parser.add_argument("--store", type=Path, default=None, help="an already built store to ask (skips the build)")
    parser.add_argument("--verbose", action="store_true", help="print every question, not only the misses")
    parser.add_argument("--wording-budget", type=int, default=None, metavar="N",
                        help="plan each question with at most N new path wordings, as `kgqa serve` does "
                             "(reasoning.vector_cache.wording_budget); prints how many answers were provisional")
    args = parser.parse_args(argv)

    from kg import KnowledgeGraph
    from nlp.build import build_corpus
    from reasoning import ask
    from reasoning.vector_cache import wording_budget

    with tempfile.TemporaryDirectory(prefix="kgqa-demo-") as tmp:
        location = str(args.store) if args.store else os.path.join(tmp, "store")
        with KnowledgeGraph.open(location) as kg:
            if args.store is None:
                started = time.monotonic()
                report = build_corpus([args.corpus], kg=kg, workers=1, fast=args.fast)
                print(f"built {report.built} documents, {report.facts:,} facts in {time.monotonic() - started:.0f} s"
                      f" ({'--fast' if args.fast else 'default pipeline'})")
            tally = defaultdict(lambda: [0, 0])
            provisional, asking = 0, time.monotonic()
            for block, question, expected in read_questions(args.questions):
                with wording_budget(args.wording_budget) as budget:
                    result = ask(kg, question, k=5)
                provisional += bool(budget and budget.skipped)
                ok = is_right(result.top, expected)
                tally[block][0] += ok
                tally[block][1] += 1
                if args.verbose or not ok:
                    print(f"{'ok  ' if ok else 'MISS'} [{block}] {question} -> {result.labels()[:3]} "
                          f"(expected {' | '.join(expected)})")
    print(f"\n{'block':<32} {'right':>5} {'asked':>5}")
    for block, (right, asked) in tally.items():
        print(f"{block:<32} {right:>5} {asked:>5}")
    right, asked = sum(v[0] for v in tally.values()), sum(v[1] for v in tally.values())
    print(f"{'all':<32} {right:>5} {asked:>5}  ({100 * right / max(1, asked):.0f} %)")
    print(f"asked in {time.monotonic() - asking:.1f} s" + (
        f"; with at most {args.wording_budget} new wordings per question, {provisional} answers were provisional "
        "(some longer paths left unscored)" if args.wording_budget is not None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
