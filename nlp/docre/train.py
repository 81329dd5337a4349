"""Train, save, load, predict with and score the document-level relation extractor.

One keyword-only entry point per job::

    report = train_docre(train="train.json", dev="dev.json", out="models/docre", epochs=15)
    model = load_docre("models/docre")
    model.predict(documents)          # DocExample list -> one DocPrediction each
    evaluate_docre(model=model, data="dev.json")["relations"]["f1"]

Training writes ``checkpoint.pt`` (weights, optimiser, schedule, random state, history) after every
epoch, so ``resume=True`` continues a run that was stopped where it left off. The saved model is
``config.json`` plus ``weights.safetensors``: the heads and the encoder layers' change from the
pre-trained MiniLM, stored as int8 deltas (about 11 MB).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from kg.errors import KGQAError
from nlp.docre.data import DocExample, DocredData, read_docred
from nlp.docre.model import (DocREConfig, DocRENet, Features, PieceCache, all_pairs, atl_loss, decide,
                             featurize)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
CHECKPOINT_FILE = "checkpoint.pt"


class DocREError(KGQAError):
    """A document-level relation model that cannot be loaded or trained."""

    code = "E-DOCRE"


@dataclass
class PredictedFact:
    """One relation read from a document: entity indexes, relation id, probability, evidence."""

    head: int
    tail: int
    relation: str
    score: float
    margin: float
    evidence: tuple[int, ...]


@dataclass
class DocPrediction:
    facts: list[PredictedFact]
    #: per entity: (type, probability)
    types: list[tuple[str, float]]


def bf16_supported() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 / AMX); ``KGQA_BF16=0`` turns it off."""
    if os.environ.get("KGQA_BF16", "1") == "0":
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _build(config: DocREConfig, device: str = "cpu") -> tuple[DocRENet, Any]:
    from nlp.relation_model import _load_encoder

    tokenizer, encoder = _load_encoder(config.encoder)
    for name, p in encoder.named_parameters():
        p.requires_grad = name.startswith("encoder.layer.")
    net = DocRENet(encoder, len(config.relations), len(config.entity_types), config.emb_size, config.block_size)
    return net.to(device), tokenizer


class DocREModel:
    """A trained (or training) extractor: config, net and tokenizer."""

    def __init__(self, config: DocREConfig, net: DocRENet, tokenizer, device: str = "cpu"):
        self.config, self.net, self.tokenizer, self.device = config, net, tokenizer, device
        self.pieces = PieceCache(tokenizer)

    def featurize(self, doc: DocExample) -> Features:
        return featurize(doc, self.pieces, self.config)

    def _encode(self, feats: Sequence[Features]):
        tok = self.tokenizer
        return self.net.encode(feats, tok.cls_token_id, tok.sep_token_id, tok.pad_token_id or 0,
                               self.config.max_length, self.config.window_overlap)

    def _precision(self):
        """Where the CPU has bfloat16 units, prediction runs in bfloat16 (about 1.9x faster; on
        Re-DocRED 400-499 relation F1 54.00 against 54.07 in float32); else float32."""
        if self.device == "cpu" and bf16_supported():
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def confidence(self, margin: torch.Tensor) -> torch.Tensor:
        a, b = self.config.calibration
        return torch.sigmoid(a * margin + b)

    @torch.inference_mode()
    def predict(self, docs: Sequence[DocExample], *, batch_size: int = 4, threshold: float = 0.0,
                subjects: Sequence[Sequence[bool]] | None = None) -> list[DocPrediction]:
        """Facts of each document whose calibrated confidence is at least ``threshold`` (and whose
        logit beats the pair's own threshold), with the sentences that state them.

        ``subjects``: per document, which entities may be a fact's head (e.g. not dates); pairs
        with another head are not classified at all."""
        self.net.eval()
        out: list[DocPrediction | None] = [None] * len(docs)
        order = sorted(range(len(docs)), key=lambda i: sum(len(s) for s in docs[i].sents))
        for lo in range(0, len(order), batch_size):
            idx = order[lo:lo + batch_size]
            feats = [self.featurize(docs[i]) for i in idx]
            keep = [j for j, f in enumerate(feats) if f.ids and f.mentions]
            for j in set(range(len(idx))) - set(keep):
                out[idx[j]] = DocPrediction([], [("", 0.0)] * len(feats[j].mentions))
            if not keep:
                continue
            with self._precision():
                encoded = self._encode([feats[j] for j in keep])
                for j, (seq, att) in zip(keep, encoded):
                    heads = subjects[idx[j]] if subjects is not None else None
                    out[idx[j]] = self._predict_one(feats[j], seq, att, threshold, heads)
        return out  # type: ignore[return-value]

    def _predict_one(self, f: Features, seq, att, threshold: float, heads=None) -> DocPrediction:
        pairs = all_pairs(len(f.mentions)).to(seq.device)
        if heads is not None and len(pairs):
            pairs = pairs[torch.tensor([bool(x) for x in heads], dtype=torch.bool, device=seq.device)[pairs[:, 0]]]
        if len(f.mentions) == 0:
            return DocPrediction([], [])
        logits, sent_w, type_logits = self.net.document(seq, att, f.mentions, pairs, f.sentences)
        logits, sent_w, type_logits = logits.float(), sent_w.float(), type_logits.float()
        probs = torch.softmax(type_logits, dim=-1)
        tp, ti = probs.max(dim=-1)
        types = [(self.config.entity_types[int(i)] if self.config.entity_types else "", float(p))
                 for p, i in zip(tp, ti)]
        facts = []
        if len(pairs):
            keep = decide(logits, self.config.max_labels)
            margin = logits[:, 1:] - logits[:, :1]
            conf = self.confidence(margin)
            for p, r in keep.nonzero().tolist():
                c = float(conf[p, r])
                if c < threshold:
                    continue
                weights = sent_w[p]
                ev = tuple(int(s) for s in (weights > self.config.evidence_threshold).nonzero().flatten().tolist())
                if not ev and len(weights):
                    ev = (int(weights.argmax()),)
                facts.append(PredictedFact(int(pairs[p, 0]), int(pairs[p, 1]), self.config.relations[r], c,
                                           float(margin[p, r]), ev))
        return DocPrediction(facts, types)

    # ---- saving ----------------------------------------------------------------------------------
    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.net.named_parameters() if p.requires_grad}

    def save(self, out: str | Path, state: dict[str, torch.Tensor] | None = None) -> Path:
        from safetensors.torch import save_file

        from nlp.relation_model import _pack

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        # encoder layers as int8 deltas from MiniLM (see nlp.relation_model._pack), heads in fp16
        tensors = {k: (v if k.startswith("encoder.") else v.half()).contiguous()
                   for k, v in _pack(state or self.trainable_state(), self.config).items()}
        tmp = out / (WEIGHTS_FILE + ".tmp")
        save_file(tensors, str(tmp))
        os.replace(tmp, out / WEIGHTS_FILE)
        tmp = out / (CONFIG_FILE + ".tmp")
        tmp.write_text(json.dumps(self.config.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, out / CONFIG_FILE)
        return out


def load_docre(path: str | Path, *, device: str = "cpu") -> DocREModel:
    """Load a model folder written by :func:`train_docre`; :class:`DocREError` if it cannot be."""
    from safetensors.torch import load_file

    from nlp.relation_model import _unpack

    folder = Path(path)
    if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise DocREError(f"{folder} is not a document relation model (needs {CONFIG_FILE} and {WEIGHTS_FILE}); "
                         "train one with `kgqa train relations --format docred`")
    try:
        config = DocREConfig.from_dict(json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8")))
        net, tokenizer = _build(config, device)
        missing, unexpected = net.load_state_dict(_unpack(load_file(str(folder / WEIGHTS_FILE)), net.state_dict()),
                                                  strict=False)
    except (ValueError, KeyError, TypeError, OSError, RuntimeError) as err:
        raise DocREError(f"cannot load the document relation model in {folder}: {err}") from None
    trained = {n for n, p in net.named_parameters() if p.requires_grad}
    if unexpected or trained & set(missing):
        raise DocREError(f"weights in {folder} do not match its config (unexpected {unexpected[:3]}, "
                         f"missing {sorted(trained & set(missing))[:3]})")
    net.eval()
    return DocREModel(config, net, tokenizer, device)


# ---- scoring ------------------------------------------------------------------------------------
def _prf(tp: float, n_pred: float, n_gold: float) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "tp": tp, "predicted": n_pred, "gold": n_gold}


def train_fact_names(docs: Sequence[DocExample]) -> set[tuple[str, str, str]]:
    """``(head name, tail name, relation)`` for every mention name pair of every training fact:
    what Ign F1 leaves out (facts the model may have seen in training)."""
    out = set()
    for d in docs:
        for f in d.facts:
            for a in d.entity_names(f.head):
                for b in d.entity_names(f.tail):
                    out.add((a, b, f.relation))
    return out


def score_predictions(docs: Sequence[DocExample], predictions: Sequence[DocPrediction], *,
                      train_names: set | None = None) -> dict:
    """Relation P/R/F1 (gold entities), Ign F1, evidence P/R/F1 and "cited sentences contain the
    gold evidence" (over correct facts whose gold evidence is given), per-type entity accuracy."""
    tp = n_pred = n_gold = 0
    in_train = 0
    ev_tp = ev_pred = ev_gold = 0
    contain = contain_n = 0
    type_ok = type_n = 0
    per_rel: dict[str, dict] = {}
    for doc, pred in zip(docs, predictions):
        gold = {(f.head, f.tail, f.relation): f for f in doc.facts}
        n_gold += len(gold)
        for f in gold:
            per_rel.setdefault(f[2], {"tp": 0, "pred": 0, "gold": 0})["gold"] += 1
        for p in pred.facts:
            key = (p.head, p.tail, p.relation)
            n_pred += 1
            row = per_rel.setdefault(p.relation, {"tp": 0, "pred": 0, "gold": 0})
            row["pred"] += 1
            g = gold.get(key)
            if g is None:
                continue
            tp += 1
            row["tp"] += 1
            if train_names is not None and any((a, b, p.relation) in train_names for a in doc.entity_names(p.head)
                                               for b in doc.entity_names(p.tail)):
                in_train += 1
            if g.evidence:
                cited, want = set(p.evidence), set(g.evidence)
                ev_tp += len(cited & want)
                ev_pred += len(cited)
                ev_gold += len(want)
                contain += want <= cited
                contain_n += 1
        for i, (typ, _) in enumerate(pred.types):
            want = doc.entity_type(i)
            if want:
                type_n += 1
                type_ok += typ == want
    rel = _prf(tp, n_pred, n_gold)
    out = {"relations": rel, "evidence": _prf(ev_tp, ev_pred, ev_gold),
           "evidence_contains_gold": contain / contain_n if contain_n else 0.0,
           "entity_type_accuracy": type_ok / type_n if type_n else 0.0,
           "per_relation": {r: _prf(c["tp"], c["pred"], c["gold"]) for r, c in per_rel.items()}}
    if train_names is not None:
        ign_p = (tp - in_train) / (n_pred - in_train) if n_pred - in_train > 0 else 0.0
        r = rel["recall"]
        out["ign_f1"] = 2 * ign_p * r / (ign_p + r) if ign_p + r else 0.0
    return out


def _as_data(data: Any, docs: slice | None = None) -> DocredData:
    if isinstance(data, DocredData):
        return data
    if isinstance(data, (str, Path)):
        return read_docred(data, docs=docs)
    raise DocREError(f"expected a DocRED JSON file or parsed data, got {type(data).__name__}")


def evaluate_docre(*, model: DocREModel, data: Any, train: Any = None, batch_size: int = 4) -> dict:
    """Score ``model`` on DocRED-style data (see :func:`score_predictions`); ``train`` (a file or
    parsed data) adds Ign F1."""
    data = _as_data(data)
    names = train_fact_names(_as_data(train).documents) if train is not None else None
    preds = model.predict(data.documents, batch_size=batch_size)
    scores = score_predictions(data.documents, preds, train_names=names)
    scores["documents"] = len(data.documents)
    scores["relation_names"] = dict(model.config.relation_names)
    return scores


def fit_calibration(margins: Sequence[float], correct: Sequence[bool], iters: int = 500) -> list[float]:
    """Platt scaling: ``[a, b]`` so that ``sigmoid(a * margin + b)`` is the chance a fact with that
    margin is right (log-loss fitted)."""
    if not margins or all(correct) or not any(correct):
        return [1.0, 0.0]
    x = torch.tensor(margins, dtype=torch.float64)
    y = torch.tensor([float(c) for c in correct], dtype=torch.float64)
    params = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(params[0] * x + params[1], y)
        loss.backward()
        return loss

    opt.step(closure)
    return [round(float(v), 5) for v in params.detach()]


def calibrate_docre(model: DocREModel, data: Any, *, batch_size: int = 4) -> dict:
    """Fit the model's confidence (Platt scaling of the margin) on labelled documents, in place.

    Returns the reliability table before writing it: bins of stated confidence, facts, share right,
    and the expected calibration error (ECE)."""
    data = _as_data(data)
    saved = model.config.calibration
    model.config.calibration = [1.0, 0.0]
    preds = model.predict(data.documents, batch_size=batch_size)
    margins, correct = [], []
    for doc, pred in zip(data.documents, preds):
        gold = {(f.head, f.tail, f.relation) for f in doc.facts}
        for p in pred.facts:
            margins.append(p.margin)
            correct.append((p.head, p.tail, p.relation) in gold)
    model.config.calibration = fit_calibration(margins, correct) if margins else saved
    conf = model.confidence(torch.tensor(margins)).tolist() if margins else []
    return reliability(conf, correct)


def reliability(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> dict:
    """Reliability table and expected calibration error of stated confidences.

    >>> r = reliability([0.95, 0.9, 0.15], [True, True, False])
    >>> round(r["ece"], 3), r["bins"][-1]["facts"]
    (0.1, 2)
    """
    rows = []
    ece = 0.0
    n = len(confidence)
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidence) if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if not idx:
            continue
        mean_c = sum(confidence[i] for i in idx) / len(idx)
        acc = sum(bool(correct[i]) for i in idx) / len(idx)
        ece += len(idx) / n * abs(mean_c - acc)
        rows.append({"bin": [lo, hi], "facts": len(idx), "confidence": mean_c, "correct": acc})
    return {"bins": rows, "ece": ece, "facts": n}


# ---- training -----------------------------------------------------------------------------------
@dataclass
class DocRETrainReport:
    out: Path
    epochs: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    dev: dict = field(default_factory=dict)


def _loss(model: DocREModel, feats: list[Features]) -> torch.Tensor:
    cfg = model.config
    encoded = model._encode(feats)
    total = 0.0
    R = len(cfg.relations) + 1
    for f, (seq, att) in zip(feats, encoded):
        n = len(f.mentions)
        if n == 0:
            continue
        loss = 0.0
        pairs = all_pairs(n)
        logits, sent_w, type_logits = model.net.document(seq, att, f.mentions, pairs, f.sentences)
        if len(pairs):
            labels = torch.zeros((len(pairs), R))
            ev_rows, ev_target = [], []
            for i, (h, t) in enumerate(pairs.tolist()):
                rels = f.labels.get((h, t))
                if rels:
                    labels[i, list(rels)] = 1.0
                    ev = f.evidence.get((h, t))
                    if ev:
                        target = torch.zeros(len(f.sentences))
                        target[list(ev)] = 1.0 / len(ev)
                        ev_rows.append(i)
                        ev_target.append(target)
            loss = atl_loss(logits, labels)
            if ev_rows and cfg.evidence_weight:
                w = sent_w[ev_rows]
                w = w / w.sum(1, keepdim=True).clamp_min(1e-9)
                target = torch.stack(ev_target)
                kl = torch.nn.functional.kl_div(torch.log(w + 1e-10), target, reduction="batchmean")
                loss = loss + cfg.evidence_weight * kl
        types = torch.tensor(f.types)
        known = types >= 0
        if cfg.type_weight and known.any():
            loss = loss + cfg.type_weight * torch.nn.functional.cross_entropy(type_logits[known], types[known])
        total = total + loss
    return total / max(1, len(feats))


def _schedule(config: DocREConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """The learning-rate factor at each step: linear warm-up, linear decay to zero at
    ``config.epochs``; with ``warm_restart`` a first decay ends halfway and the rest follows the
    whole run's line from that step on."""
    total = steps_per_epoch * config.epochs
    warm = max(1, int(config.warmup * total))

    def whole(s: int) -> float:
        return s / warm if s < warm else max(0.0, (total - s) / max(1, total - warm))

    if not config.warm_restart or config.epochs < 2:
        return whole
    first = steps_per_epoch * (config.epochs // 2)
    first_warm = max(1, int(config.warmup * first))

    def legs(s: int) -> float:
        if s < first:
            return s / first_warm if s < first_warm else max(0.0, (first - s) / max(1, first - first_warm))
        return whole(s)
    return legs


def train_docre(*, train: Any, out: str | Path, dev: Any = None, epochs: int = 30, seed: int = 0,
                batch_size: int = 4, lr_encoder: float = 5e-5, lr_heads: float = 1e-4,
                relation_names: dict | None = None, resume: bool = False, threads: int | None = None,
                time_budget: float | None = None, calibrate_on: Any = None,
                progress: Callable[[str], None] | None = None, train_docs: slice | None = None,
                dev_docs: slice | None = None, calibrate_docs: slice | None = None,
                **settings: Any) -> DocRETrainReport:
    """Train a document-level extractor on DocRED-style data and save it in ``out``.

    The last epoch is saved (no epoch is picked on ``dev``: it is scored after each epoch so the
    run can be watched, and at the end). ``calibrate_on`` (labelled documents, default ``dev``)
    fits the confidence. ``resume=True`` continues from ``out/checkpoint.pt`` (with another
    ``epochs`` the learning rate's linear decay is re-planned to end there); ``time_budget``
    (seconds) stops after the epoch that passes it, leaving the checkpoint to resume from.
    Other keyword ``settings`` override :class:`DocREConfig` fields (``emb_size``, ``evidence_weight``...).
    """
    say = progress or (lambda msg: None)
    if threads:
        torch.set_num_threads(threads)
    out = Path(out)
    train_data = _as_data(train, train_docs)
    if not train_data.documents:
        raise DocREError(f"no usable documents in {train_data.source or 'the training data'} "
                         f"({'; '.join(train_data.problems[:3]) or 'empty'})")
    dev_data = _as_data(dev, dev_docs) if dev is not None else None
    relations = list(train_data.relation_types())
    if not relations:
        raise DocREError("the training documents hold no labelled relations ('labels')")
    unknown = set(settings) - set(DocREConfig.__dataclass_fields__)
    if unknown:
        raise DocREError(f"unknown settings {sorted(unknown)}")
    config = DocREConfig(relations=relations, entity_types=list(train_data.entity_types()),
                         relation_names={r: (relation_names or {}).get(r, r) for r in relations},
                         epochs=epochs, batch_size=batch_size, lr_encoder=lr_encoder, lr_heads=lr_heads,
                         seed=seed, **settings)
    random.seed(seed)
    torch.manual_seed(seed)
    net, tokenizer = _build(config)
    model = DocREModel(config, net, tokenizer)
    feats = [model.featurize(d) for d in train_data.documents]
    feats = [f for f in feats if f.mentions]
    steps_per_epoch = math.ceil(len(feats) / batch_size)
    total_steps = steps_per_epoch * epochs
    enc_params = [p for n, p in net.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    head_params = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": lr_encoder}, {"params": head_params, "lr": lr_heads}],
                            eps=1e-6, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(config, steps_per_epoch))
    history: list[dict] = []
    start_epoch = 0
    ckpt = out / CHECKPOINT_FILE
    if resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        if state["config"]["relations"] != config.relations:
            raise DocREError(f"{ckpt} belongs to a run with other relations; start afresh without --resume")
        if state["config"]["epochs"] != epochs:  # a run cut short or lengthened: the decay is re-planned
            say(f"the checkpoint's run planned {state['config']['epochs']} epochs; the learning rate now "
                f"decays to zero at epoch {epochs}")
            config.trained["planned_epochs"] = state["config"]["epochs"]
        net.load_state_dict(state["net"], strict=False)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        random.setstate(state["random"])
        torch.set_rng_state(state["torch_random"])
        history = state["history"]
        start_epoch = state["epoch"] + 1
        say(f"resuming after epoch {start_epoch} of {epochs}")
    elif resume:
        say(f"no checkpoint in {out}; starting afresh")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rng = random.Random()
    for epoch in range(start_epoch, epochs):
        rng.seed(seed * 1000 + epoch)
        net.train()
        order = list(range(len(feats)))
        rng.shuffle(order)
        t0, run_loss = time.monotonic(), 0.0
        for step in range(steps_per_epoch):
            batch = [feats[i] for i in order[step * batch_size:(step + 1) * batch_size]]
            with model._precision() if config.bf16_training else contextlib.nullcontext():
                loss = _loss(model, batch)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            run_loss += float(loss.detach())
        row = {"epoch": epoch + 1, "loss": run_loss / steps_per_epoch, "seconds": round(time.monotonic() - t0, 1)}
        if dev_data is not None and ((epoch + 1) % max(1, epochs // 6) == 0 or epoch + 1 == epochs):
            scores = score_predictions(dev_data.documents, model.predict(dev_data.documents))
            row.update(dev_f1=round(scores["relations"]["f1"], 4), dev_evidence=round(scores["evidence_contains_gold"], 4))
        history.append(row)
        say(json.dumps(row))
        torch.save({"net": model.trainable_state(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "random": random.getstate(), "torch_random": torch.get_rng_state(), "history": history,
                    "epoch": epoch, "config": config.to_dict()}, str(ckpt) + ".tmp")
        os.replace(str(ckpt) + ".tmp", ckpt)
        if time_budget is not None and time.monotonic() - started > time_budget and epoch + 1 < epochs:
            say(f"time budget reached after epoch {epoch + 1}; run again with --resume to continue")
            return DocRETrainReport(out, epoch + 1, time.monotonic() - started, history)
    report = DocRETrainReport(out, epochs, time.monotonic() - started, history)
    cal = calibrate_on if calibrate_on is not None else dev
    if cal is not None:
        table = calibrate_docre(model, _as_data(cal, calibrate_docs if calibrate_on is not None else dev_docs))
        config.trained["calibration_ece"] = round(table["ece"], 4)
    config.trained.update(train=Path(train_data.source).name if train_data.source else "", documents=len(feats),
                          epochs=epochs, history=history, seconds=round(report.seconds, 1))
    model.save(out)
    if dev_data is not None:
        report.dev = evaluate_docre(model=load_docre(out), data=dev_data, train=train_data)
    return report


__all__ = ["DocREModel", "DocPrediction", "PredictedFact", "DocREError", "train_docre", "load_docre",
           "evaluate_docre", "score_predictions", "calibrate_docre", "reliability", "fit_calibration"]
