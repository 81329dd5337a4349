"""Link prediction benchmark: filtered MRR and Hits@10 on the FB15k-237 and WN18RR test splits, with CPU time.

Trains :class:`reasoning.gnn.linkpred.LinkPredictor` (ComplEx or DistMult decoder, optional
CompGCN-style encoder layers) with 1-vs-all cross-entropy on ``train.txt`` within a time budget, then
ranks every test triple's tail and head against all entities, filtering the other true triples of
train/valid/test (the standard filtered setting).

Usage::

    nice -n 10 .venv/bin/python bench/linkpred.py --dataset fb15k-237 --time-budget 900
    nice -n 10 .venv/bin/python bench/linkpred.py --dataset wn18rr --layers 1 --epochs 50
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ANCHORS = {"fb15k-237": "RGCN 0.248 · CompGCN 0.355 · NBFNet 0.415", "wn18rr": "CompGCN 0.479 · NBFNet 0.551"}


def load(folder: Path):
    """Integer ``[T, 3]`` triples of train/valid/test and the entity/relation counts."""
    import torch

    ent, rel, splits = {}, {}, {}
    for split in ("train", "valid", "test"):
        rows = []
        for line in (folder / f"{split}.txt").read_text(encoding="utf-8").splitlines():
            parts = line.strip().split("\t")
            if len(parts) == 3:
                h, r, t = parts
                rows.append((ent.setdefault(h, len(ent)), rel.setdefault(r, len(rel)), ent.setdefault(t, len(ent))))
        splits[split] = torch.tensor(rows, dtype=torch.long)
    return splits, len(ent), len(rel)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    parser.add_argument("--dataset", default="fb15k-237,wn18rr")
    parser.add_argument("--decoder", default="complex")
    parser.add_argument("--layers", type=int, default=0)
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--time-budget", type=float, default=900.0, help="training seconds per dataset")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--test-limit", type=int, default=None, help="rank only a sample of the test triples")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from reasoning.gnn.linkpred import LinkPredictor, evaluate, fit

    rows = []
    for name in args.dataset.split(","):
        splits, n_ent, n_rel = load(args.data / name)
        model = LinkPredictor(n_ent, n_rel, dim=args.dim, layers=args.layers, decoder=args.decoder,
                              dropout=args.dropout)
        cpu0 = time.process_time()
        stats = fit(model, splits["train"], epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                    time_budget=args.time_budget, device=args.device,
                    log=lambda m, n=name: print(f"[{n}] {m}", flush=True))
        train_cpu = time.process_time() - cpu0
        known = torch.cat([splits["train"], splits["valid"], splits["test"]])
        t0 = time.monotonic()
        m = evaluate(model, splits["train"], splits["test"], known, device=args.device, limit=args.test_limit)
        print(f"[{name}] test: {m} ({time.monotonic() - t0:.0f} s to rank)", flush=True)
        rows.append((name, m, stats, train_cpu))
    print()
    enc = f"{args.layers}-layer CompGCN-style encoder + " if args.layers else ""
    print(f"Link prediction, {enc}{args.decoder} (dim {args.dim}), filtered, test split")
    print(f"{'dataset':<10} | {'MRR':>5} | {'Hits@1':>6} | {'Hits@10':>7} | {'queries':>7} | {'epochs':>6} | "
          f"{'train wall s':>12} | {'train CPU s':>11} | anchors (MRR)")
    for name, m, stats, cpu in rows:
        print(f"{name:<10} | {m['mrr']:.3f} | {m['hits@1']:>6.3f} | {m['hits@10']:>7.3f} | {m['queries']:>7} | "
              f"{stats['epochs']:>6} | {stats['seconds']:>12.0f} | {cpu:>11.0f} | {ANCHORS.get(name, '')}")


if __name__ == "__main__":
    main()
