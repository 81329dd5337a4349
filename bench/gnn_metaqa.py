"""MetaQA dev benchmark for the GNN reasoner alone (``--method gnn``), trained without labelled questions.

1. imports ``metaqa/kb.txt`` (format pipe) into a store cached in ``bench/out/gnn-metaqa-store``;
2. trains the reasoner ONLY on questions generated from the graph's own relation paths
   (:mod:`reasoning.gnn.questions`), exactly as ``kgqa train reasoner`` does, and reports the CPU time;
3. asks the dev questions of each hop count with the reasoner alone and prints Hits@1 beside the
   ceiling (the share of questions whose gold answers include a node within N hops of the topic)
   and how often the hop count the reasoner settled on (its largest hop weight) was the right one.

No MetaQA question is seen in training; the topic entity comes from the ``[bracketed]`` span.

Usage::

    nice -n 10 .venv/bin/python bench/gnn_metaqa.py --limit 500 --questions 12000 --epochs 3
    .venv/bin/python bench/gnn_metaqa.py --limit 200 --skip-train      # evaluate the saved model again
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def read_questions(path: Path, limit: int | None, seed: int = 0) -> list[tuple[str, list[str]]]:
    """(question, gold answers) pairs; ``limit`` takes a fixed random sample."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            q, a = line.split("\t", 1)
            rows.append((q.strip(), [x.strip() for x in a.split("|") if x.strip()]))
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    parser.add_argument("--store", type=Path, default=ROOT / "bench" / "out" / "gnn-metaqa-store")
    parser.add_argument("--limit", type=int, default=None, help="dev questions per hop count (random sample)")
    parser.add_argument("--hops", default="1,2,3")
    parser.add_argument("--questions", type=int, default=12000, help="generated training questions")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--time-budget", type=float, default=None, help="training seconds at most")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate (train_reasoner's default)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--choice", default="paths",
                        help="how the question is read: paths (whole relation paths), or hop by hop: "
                             "stop, frontier, gates")
    parser.add_argument("--layers", type=int, default=2, help="MiniLM layers the path reader fine-tunes")
    parser.add_argument("--equivalent", type=int, default=0,
                        help="also count as right any of the K best paths that reach the same answers (0: off)")
    parser.add_argument("--grammar", type=float, default=0.2, help="share of questions worded by the planner's paraphrases")
    parser.add_argument("--pairs", type=float, default=0.5, help="share of out-and-back hops worded as one idiom")
    parser.add_argument("--seed", type=int, default=0, help="seed of question generation and training")
    parser.add_argument("--category", type=float, default=0.3, help="share of questions naming the topic after a category noun")
    parser.add_argument("--natural", type=float, default=0.5, help="share of questions worded in plain English (reasoning/gnn/wording.py)")
    parser.add_argument("--distinct", action="store_true",
                        help="match words to relation labels relative to the average label (MultiHopReasoner distinct=)")
    parser.add_argument("--zero-shot", type=float, default=None,
                        help="weight of the untouched MiniLM's match added when answering (path reader; default: "
                             "train_reasoner's, or the saved model's with --skip-train)")
    parser.add_argument("--skip-train", action="store_true", help="evaluate the model already in the store")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from kg import KnowledgeGraph
    from reasoning.gnn.reasoner import is_trained, load_reasoner, prepare, score_question, train_reasoner

    kg = KnowledgeGraph.open(str(args.store))
    if not kg.has_document("metaqa-kb"):
        t = time.monotonic()
        rep = kg.import_file(args.data / "metaqa" / "kb.txt", "pipe", doc_id="metaqa-kb")
        print(f"imported {rep.triples:,} triples in {time.monotonic() - t:.1f} s", flush=True)
    train_info = "saved model"
    if not args.skip_train or not is_trained(kg):
        cpu0, wall0 = time.process_time(), time.monotonic()
        report = train_reasoner(kg, epochs=args.epochs, num_questions=args.questions, device=args.device,
                                time_budget=args.time_budget, batch_size=32, lr=args.lr, choice=args.choice,
                                grammar=args.grammar, pairs=args.pairs, category=args.category, natural=args.natural,
                                distinct=args.distinct, seed=args.seed, layers=args.layers, equivalent=args.equivalent,
                                zero_shot=args.zero_shot,
                                log=lambda m: print(m, flush=True))
        train_info = (f"{report.questions:,} generated questions, {report.epochs} epochs, "
                      f"{time.monotonic() - wall0:.0f} s wall, {time.process_time() - cpu0:.0f} s CPU "
                      f"({args.threads} threads), held-out generated Hits@1 {report.held_out_hits1:.3f}")
        print(train_info, flush=True)
    net, _ = load_reasoner(kg)
    if hasattr(net, "reader"):  # the path reader
        if args.zero_shot is not None:  # loaded once and kept: answering below uses it
            net.reader.zero_shot = args.zero_shot
        train_info += f", zero-shot weight {net.reader.zero_shot:g}"
    prep = prepare(kg)
    from reasoning.gnn.text import encode_items, mask_topic

    rows_out = []
    for hop in [int(h) for h in args.hops.split(",")]:
        questions = read_questions(args.data / "metaqa" / f"{hop}-hop" / "qa_dev.txt", args.limit)
        encode_items([mask_topic(q, []).lower().rstrip("?!. ") for q, _ in questions])  # one batched MiniLM pass
        hits = reachable = linked = hops_read = 0
        started = time.monotonic()
        for text, gold in questions:
            gold_keys = {" ".join(g.casefold().split()) for g in gold}
            gold_iris = {iri for g in gold_keys for iri in prep.by_label.get(g, [])}
            try:
                _, topics, nodes, scores, trace = score_question(kg, text, device=args.device)
            except Exception as err:  # a question the reasoner cannot read counts as a miss
                if "E-GNN-TOPIC" not in str(err):
                    raise
                continue
            linked += 1
            hops_read += int(trace["hop_weights"].argmax()) + 1 == hop  # the hop count the reasoner settled on
            # ceiling: some gold answer within `hop` hops of the topic in this KB
            from reasoning.gnn.reasoner import k_hop_edges

            pos, _ = k_hop_edges(prep.index, topics, hop, max_edges=10**9)
            near = {prep.graph.entities[v] for v in np.unique(prep.index.dst[pos]).tolist()}
            reachable += bool(near & gold_iris)
            best = int(nodes[int(scores.argmax())])
            hits += prep.graph.entities[best] in gold_iris and float(scores.max()) > 0
        n = max(len(questions), 1)
        rows_out.append((hop, len(questions), hits / n, reachable / n, linked / n, hops_read / n,
                         1000 * (time.monotonic() - started) / n))
        print(f"{hop}-hop: Hits@1 {hits / n:.3f} ceiling {reachable / n:.3f} ({len(questions)} questions)", flush=True)
    print()
    print(f"GNN reasoner on MetaQA dev, trained only on self-generated questions ({train_info})")
    print(f"{'hops':>4} | {'questions':>9} | {'Hits@1':>6} | {'ceiling':>7} | {'topic linked':>12} | "
          f"{'hop count read':>14} | {'ms/question':>11}")
    for hop, n, h, c, lk, hr, ms in rows_out:
        print(f"{hop:>4} | {n:>9} | {100 * h:>6.1f} | {100 * c:>7.1f} | {100 * lk:>12.1f} | {100 * hr:>14.1f} | "
              f"{ms:>11.1f}")
    print("anchors (supervised, test split): GraftNet 97.0/94.8/77.2, NSM 97.1/99.9/98.9")
    kg.close()


if __name__ == "__main__":
    main()
