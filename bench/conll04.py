"""CoNLL04 joint entity + relation extraction: strict micro F1 on dev after training on train.

Trains on ``conll04/train.json`` (model selection on dev) or loads ``--model DIR``, evaluates on
``conll04/dev.json`` and prints strict micro P/R/F1, per-type scores and the training CPU time.
Anchors (test split, from the papers): SpERT 71.5, REBEL 75.4, ReLiK-Large 78.1.

    .venv/bin/python bench/conll04.py --model nlp/models/conll04_minilm     # the shipped model
    nice -n 10 .venv/bin/python bench/conll04.py --epochs 8 --out /tmp/conll04-re  # retrain
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ANCHORS = {"SpERT (BERT-base)": 71.5, "REBEL (BART-large)": 75.4, "ReLiK-Large": 78.1}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="folder holding conll04/")
    parser.add_argument("--model", help="evaluate this model folder instead of training one")
    parser.add_argument("--out", default="bench-conll04-model", help="where a trained model is saved")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trainable-layers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    from nlp.relation_model import evaluate_relations, load_relation_model, train_relations
    from ui.commands.relations import print_scores

    torch.set_num_threads(args.threads)
    folder = Path(args.data) / "conll04"
    train_file, dev_file = folder / "train.json", folder / "dev.json"
    for path in (dev_file,) if args.model else (train_file, dev_file):
        if not path.is_file():
            print(f"missing {path}; pass --data pointing at the folder that holds conll04/")
            return
    if args.model:
        model_dir, cpu = Path(args.model), None
        print(f"model: {model_dir} (trained: {load_relation_model(model_dir).config.trained or 'unknown'})")
    else:
        def progress(stage, done, total, info):
            if stage == "dev":
                print(f"  epoch {info['epoch']:>2}: loss {info['loss']:.4f}  dev strict F1 {100 * info['f1']:.2f}",
                      flush=True)

        report = train_relations(train=train_file, dev=dev_file, out=args.out, epochs=args.epochs,
                                 seed=args.seed, progress=progress, trainable_layers=args.trainable_layers)
        model_dir, cpu = Path(args.out), report.cpu_seconds
        print(f"trained {report.epochs} epochs (best {report.best_epoch}) in {report.cpu_seconds:.0f} s CPU, "
              f"{report.wall_seconds:.0f} s wall; weights {report.weights_bytes / 1e6:.1f} MB")
    model = load_relation_model(model_dir)
    start = time.process_time()
    scores = evaluate_relations(model=model, data=dev_file)
    eval_cpu = time.process_time() - start
    print_scores(scores, title="CoNLL04 dev, strict")
    rel = scores["relations"]
    print(f"\nCoNLL04 dev strict micro relation F1: {100 * rel['f1']:.2f} "
          f"(P {100 * rel['precision']:.2f}, R {100 * rel['recall']:.2f}); "
          f"entity F1 {100 * scores['entities']['f1']:.2f}; macro relation F1 {100 * scores['relations_macro_f1']:.2f}")
    if cpu is not None:
        print(f"training CPU time: {cpu:.0f} s")
    elif model.config.trained.get("cpu_seconds"):
        print(f"training CPU time (recorded in the model): {model.config.trained['cpu_seconds']:.0f} s")
    print(f"evaluation CPU time: {eval_cpu:.1f} s for {scores['sentences']} sentences")
    print("anchors (test split, micro F1): " + ", ".join(f"{k} {v}" for k, v in ANCHORS.items()))


if __name__ == "__main__":
    main()
