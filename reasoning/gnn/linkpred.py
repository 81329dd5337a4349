"""Link prediction: a CompGCN-style encoder (RGCN family) with a DistMult or ComplEx decoder.

Trained on the asserted facts of a store (``kgqa train linkpred``) or on integer triples (the
benchmarks), scored 1-vs-all with reciprocal relations: the query ``(h, r, ?)`` is one row of scores
over every entity, and ``(?, r, t)`` is asked as ``(t, r⁻¹, ?)``. Predictions never become asserted
facts: :func:`save_predictions` writes them to the ``PREDICTED_GRAPH`` as ``kgqa:Prediction`` records
with ``kgqa:score`` and ``kgqa:model``.

>>> import torch
>>> triples = torch.tensor([[0, 0, 1], [1, 0, 2], [2, 0, 3]])
>>> model = LinkPredictor(4, 1, dim=8, layers=1, decoder="complex")
>>> model.score(*model.encode(*graph_edges(triples, 1)), torch.tensor([0]), torch.tensor([0])).shape
torch.Size([1, 4])
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kg.errors import KGQAError
from reasoning.gnn.convert import Fingerprint, fingerprint, fingerprint_drift, kg_to_tensors
from reasoning.gnn.layers import CompositionConv

MODEL_FILE = "model.pt"
META_FILE = "meta.json"
DECODERS = ("distmult", "complex")


class LinkPredictor(nn.Module):
    """Entity and relation embeddings, ``layers`` :class:`~reasoning.gnn.layers.CompositionConv` layers, a decoder.

    ``layers=0`` is the plain decoder (DistMult/ComplEx); relations are doubled (``r + R`` is ``r⁻¹``).

    Args:
        num_entities, num_relations: sizes (``num_relations`` without inverses).
        dim: embedding width (ComplEx uses half for the real and half for the imaginary part).
        layers: encoder depth.
        decoder: ``"distmult"`` or ``"complex"``.
        dropout: dropout on the encoded entities during training.
    """

    def __init__(self, num_entities: int, num_relations: int, *, dim: int = 100, layers: int = 1,
                 decoder: str = "complex", dropout: float = 0.2):
        super().__init__()
        if decoder not in DECODERS:
            raise KGQAError(f"unknown decoder {decoder!r}; use one of {', '.join(DECODERS)}", code="E-GNN-DECODER")
        if decoder == "complex" and dim % 2:
            dim += 1
        self.num_entities, self.num_relations, self.dim = num_entities, num_relations, dim
        self.decoder, self.layers = decoder, layers
        self.entity = nn.Embedding(num_entities, dim)
        self.relation = nn.Embedding(2 * num_relations, dim)
        self.convs = nn.ModuleList([CompositionConv(dim, dim, 2 * num_relations) for _ in range(layers)])
        self.dropout = nn.Dropout(dropout)
        nn.init.xavier_uniform_(self.entity.weight)
        nn.init.xavier_uniform_(self.relation.weight)

    def encode(self, edge_index: torch.Tensor, edge_type: torch.Tensor):
        """Entity ``[N, dim]`` and relation ``[2R, dim]`` representations after the encoder."""
        h, z = self.entity.weight, self.relation.weight
        for conv in self.convs:
            dh, z = conv(h, edge_index, edge_type, z)
            h = h + torch.tanh(dh)  # residual: the free embeddings stay reachable through deep stacks
        return self.dropout(h), z

    def score(self, h: torch.Tensor, z: torch.Tensor, heads: torch.Tensor, rels: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, N]`` of every entity as the tail of ``(heads[b], rels[b], ?)``."""
        q, r = h[heads], z[rels]
        if self.decoder == "distmult":
            return (q * r) @ h.t()
        half = self.dim // 2
        qr, qi, rr, ri = q[:, :half], q[:, half:], r[:, :half], r[:, half:]
        er, ei = h[:, :half], h[:, half:]
        return (qr * rr - qi * ri) @ er.t() + (qr * ri + qi * rr) @ ei.t()


def graph_edges(triples: torch.Tensor, num_relations: int):
    """``(edge_index, edge_type)`` of ``[T, 3]`` (head, relation, tail) triples, with inverse edges."""
    h, r, t = triples[:, 0], triples[:, 1], triples[:, 2]
    return torch.stack([torch.cat([h, t]), torch.cat([t, h])]), torch.cat([r, r + num_relations])


def _queries(triples: torch.Tensor, num_relations: int):
    h, r, t = triples[:, 0], triples[:, 1], triples[:, 2]
    return torch.cat([h, t]), torch.cat([r, r + num_relations]), torch.cat([t, h])


def fit(model: LinkPredictor, train: torch.Tensor, *, epochs: int = 50, batch_size: int = 1024, lr: float = 3e-3,
        label_smoothing: float = 0.1, weight_decay: float = 0.0, time_budget: float | None = None,
        device: str | torch.device = "cpu", log=None, evaluate_every: int = 0, valid: torch.Tensor | None = None,
        filter_triples: torch.Tensor | None = None) -> dict:
    """Train ``model`` on ``[T, 3]`` triples with 1-vs-all cross-entropy (reciprocal relations).

    Stops after ``epochs`` or once ``time_budget`` seconds have passed (checked after every batch).
    Returns ``{"epochs", "seconds", "loss"}`` (plus ``"valid"`` metrics when ``valid`` is given).
    """
    log = log or (lambda msg: None)
    started = time.monotonic()
    model.to(device)
    edge_index, edge_type = (x.to(device) for x in graph_edges(train, model.num_relations))
    heads, rels, tails = (x.to(device) for x in _queries(train, model.num_relations))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    done, last, out_of_time = 0, float("nan"), False
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(heads.numel(), device=device)
        total, batches = 0.0, 0
        for lo in range(0, perm.numel(), batch_size):
            idx = perm[lo:lo + batch_size]
            h, z = model.encode(edge_index, edge_type)
            loss = loss_fn(model.score(h, z, heads[idx], rels[idx]), tails[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
            batches += 1
            if time_budget and time.monotonic() - started > time_budget:
                out_of_time = True
                break
        done, last = epoch + 1, total / max(batches, 1)
        msg = f"epoch {done}: loss {last:.4f} ({time.monotonic() - started:.0f} s)"
        if evaluate_every and valid is not None and done % evaluate_every == 0:
            m = evaluate(model, train, valid, filter_triples if filter_triples is not None else valid, device=device,
                         limit=2000)
            msg += f", valid MRR {m['mrr']:.3f} Hits@10 {m['hits@10']:.3f}"
        log(msg)
        if out_of_time:
            log("time budget reached")
            break
    return {"epochs": done, "seconds": round(time.monotonic() - started, 1), "loss": last}


@torch.no_grad()
def evaluate(model: LinkPredictor, train: torch.Tensor, test: torch.Tensor, known: torch.Tensor, *,
             device="cpu", batch_size: int = 256, limit: int | None = None) -> dict:
    """Filtered MRR, Hits@1/3/10 of ``test`` triples, ranking tails and heads (as reciprocal tails).

    ``known`` holds every true triple (train + valid + test) for filtering; ties count against the
    target (its rank is 1 + the number of candidates scoring at least as high, other than itself).

    >>> m = LinkPredictor(3, 1, dim=4, layers=0)
    >>> t = torch.tensor([[0, 0, 1]])
    >>> sorted(evaluate(m, t, t, t))
    ['hits@1', 'hits@10', 'hits@3', 'mr', 'mrr', 'queries']
    """
    model.eval()
    model.to(device)
    r = model.num_relations
    if limit is not None and test.size(0) > limit:
        test = test[torch.randperm(test.size(0), generator=torch.Generator().manual_seed(0))[:limit]]
    h, z = model.encode(*(x.to(device) for x in graph_edges(train, r)))
    answers: dict[tuple[int, int], list[int]] = {}
    for a, rel, b in known.tolist():
        answers.setdefault((a, rel), []).append(b)
        answers.setdefault((b, rel + r), []).append(a)
    heads, rels, tails = _queries(test, r)
    ranks = []
    for lo in range(0, heads.numel(), batch_size):
        hb, rb, tb = heads[lo:lo + batch_size], rels[lo:lo + batch_size], tails[lo:lo + batch_size]
        scores = model.score(h, z, hb.to(device), rb.to(device)).cpu()
        target = scores[torch.arange(tb.numel()), tb].clone()
        rows, cols = [], []
        for i, (a, rel) in enumerate(zip(hb.tolist(), rb.tolist())):
            others = answers.get((a, rel), [])
            rows.extend([i] * len(others))
            cols.extend(others)
        scores[rows, cols] = float("-inf")
        scores[torch.arange(tb.numel()), tb] = float("-inf")
        ranks.append(1 + (scores >= target.unsqueeze(1)).sum(1))
    ranks = torch.cat(ranks).float() if ranks else torch.zeros(0)
    n = max(ranks.numel(), 1)
    return {"mrr": float((1 / ranks).sum() / n), "mr": float(ranks.sum() / n),
            "hits@1": float((ranks <= 1).sum() / n), "hits@3": float((ranks <= 3).sum() / n),
            "hits@10": float((ranks <= 10).sum() / n), "queries": int(ranks.numel())}


# ---------------------------------------------------------------------------------------------- on a store
@dataclass
class LinkPredReport:
    """What ``kgqa train linkpred`` did; ``valid`` holds filtered metrics on 5% of the facts held out."""

    model_dir: str
    facts: int
    entities: int
    relations: int
    epochs: int
    seconds: float
    decoder: str
    layers: int
    dim: int
    device: str
    valid: dict


@dataclass
class Predictions:
    """The answer to ``kgqa predict``: the resolved head and relation IRIs and the ranked candidates."""

    head: str
    relation: str
    candidates: list


@dataclass
class Prediction:
    """A candidate tail for ``(head, relation, ?)``: label, IRI, score (softmax over all entities)."""

    label: str
    iri: str
    score: float
    known: bool = False


def train_linkpred(kg, *, model_dir=None, epochs: int = 100, dim: int = 128, layers: int = 1,
                   decoder: str = "complex", device: str | None = None, lr: float = 3e-3, batch_size: int = 512,
                   time_budget: float | None = None, seed: int = 0, log=None) -> LinkPredReport:
    """Train link prediction on the store's asserted entity facts and save it in ``<store>/models/linkpred``.

    On graphs of 20 facts or more, 5% of the facts are held out of training to report filtered
    MRR/Hits@10 (``report.valid``); the model keeps them out, so the numbers are honest.
    """
    from reasoning.gnn.reasoner import _device, model_dir_for

    torch.manual_seed(seed)
    dev = _device(device)
    out_dir = model_dir_for(kg, model_dir, kind="linkpred")
    graph = kg_to_tensors(kg)
    if graph.num_edges < 2:
        raise KGQAError("link prediction needs at least two facts between entities; import or build some first",
                        code="E-GNN-EMPTY")
    triples = torch.stack([graph.edge_index[0], graph.edge_type, graph.edge_index[1]], 1)
    perm = torch.randperm(triples.size(0), generator=torch.Generator().manual_seed(seed))
    held = max(1, triples.size(0) // 20) if triples.size(0) >= 20 else 0
    valid, train = triples[perm[:held]], triples[perm[held:]]
    model = LinkPredictor(graph.num_nodes, graph.num_relations, dim=dim, layers=layers, decoder=decoder)
    stats = fit(model, train, epochs=epochs, batch_size=batch_size, lr=lr, time_budget=time_budget, device=dev,
                log=log)
    metrics = evaluate(model, train, valid, triples, device=dev) if held else {}
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.cpu().state_dict(), "train": train,
                "config": {"dim": model.dim, "layers": layers, "decoder": decoder}}, out_dir / MODEL_FILE)
    report = LinkPredReport(str(out_dir), graph.num_edges, graph.num_nodes, graph.num_relations, stats["epochs"],
                            stats["seconds"], decoder, layers, model.dim, str(dev),
                            {k: round(v, 4) for k, v in metrics.items()})
    meta = {"fingerprint": fingerprint(graph).to_json(), "entities": graph.entities, "relations": graph.relations,
            "report": asdict(report)}
    (out_dir / META_FILE).write_text(json.dumps(meta))
    return report


def load_linkpred(kg, model_dir=None):
    """``(model, meta, train_triples)`` of the link predictor trained for this store."""
    from reasoning.gnn.reasoner import ModelNotTrainedError, model_dir_for

    folder = model_dir_for(kg, model_dir, kind="linkpred")
    if not (folder / MODEL_FILE).exists():
        raise ModelNotTrainedError(f"no link predictor trained for this store (looked in {folder}); "
                                   "run `kgqa train linkpred --store DIR` first")
    saved = torch.load(folder / MODEL_FILE, map_location="cpu", weights_only=False)
    meta = json.loads((folder / META_FILE).read_text())
    cfg = saved["config"]
    model = LinkPredictor(len(meta["entities"]), len(meta["relations"]), dim=cfg["dim"], layers=cfg["layers"],
                          decoder=cfg["decoder"])
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return model, meta, saved["train"]


def _resolve(kg, text: str, iris: list[str], what: str) -> int:
    """Index in ``iris`` of an IRI given as such, or of the entity/relation whose label or alias is ``text``."""
    pos = {iri: i for i, iri in enumerate(iris)}
    if text in pos:
        return pos[text]
    graph_labels = _labels(kg)
    want = " ".join(text.casefold().replace("_", " ").split())
    hits = [i for i, iri in enumerate(iris)
            if any(" ".join(lab.casefold().replace("_", " ").split()) == want for lab in graph_labels.get(iri, []))
            or iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1].casefold().replace("_", " ") == want]
    if not hits:
        raise KGQAError(f"no {what} labelled {text!r} in the model; give its IRI or its label exactly",
                        code="E-GNN-UNKNOWN")
    return hits[0]


def _labels(kg) -> dict[str, list[str]]:
    from reasoning.gnn.reasoner import prepare

    graph = prepare(kg).graph
    return {iri: [lab] + graph.aliases.get(iri, []) for iri, lab in graph.labels.items()}


def predict(kg, head: str, relation: str, *, k: int = 10, model_dir=None,
            include_known: bool = False) -> Predictions:
    """The ``k`` best tails for ``(head, relation, ?)`` (head and relation by IRI or label), best first.

    Tails already asserted are left out unless ``include_known`` (then they are flagged ``known``).
    """
    model, meta, train = load_linkpred(kg, model_dir)
    entities, relations = meta["entities"], meta["relations"]
    h = _resolve(kg, head, entities, "entity")
    r = _resolve(kg, relation, relations, "relation")
    with torch.no_grad():
        emb, z = model.encode(*graph_edges(train, model.num_relations))
        probs = torch.softmax(model.score(emb, z, torch.tensor([h]), torch.tensor([r]))[0], 0)
    graph = kg_to_tensors(kg)
    known = set()
    for a, rel, b in zip(graph.edge_index[0].tolist(), graph.edge_type.tolist(), graph.edge_index[1].tolist()):
        if graph.entities[a] == entities[h] and graph.relations[rel] == relations[r]:
            known.add(graph.entities[b])
    out = []
    for i in torch.argsort(probs, descending=True).tolist():
        iri = entities[i]
        if i == h or (iri in known and not include_known):
            continue
        out.append(Prediction(graph.label(iri), iri, float(probs[i]), iri in known))
        if len(out) >= k:
            break
    return Predictions(entities[h], relations[r], out)


def linkpred_staleness(kg, model_dir=None) -> str | None:
    """Why the link predictor should be retrained, or None."""
    from reasoning.gnn.reasoner import model_dir_for

    path = model_dir_for(kg, model_dir, kind="linkpred") / META_FILE
    if not path.exists():
        return None
    old = Fingerprint.from_json(json.loads(path.read_text())["fingerprint"])
    why = fingerprint_drift(old, fingerprint(kg_to_tensors(kg)))
    return None if why is None else f"the graph changed since link prediction was trained ({why})"


def save_predictions(kg, head: str, relation: str, predictions: list[Prediction], *,
                     model: str = "linkpred") -> int:
    """Write predictions to ``PREDICTED_GRAPH``: the triple plus a ``kgqa:Prediction`` record with its score.

    Asserted facts are never touched; saving the same prediction again replaces its score. Returns how
    many predictions were written.
    """
    import pyoxigraph as ox

    from kg.namespaces import BASE, KGQA, PREDICTED_GRAPH, RDF, XSD

    g = ox.NamedNode(str(PREDICTED_GRAPH))
    n = lambda x: ox.NamedNode(str(x))  # noqa: E731
    model_lit = ox.Literal(model)
    quads = []
    for p in predictions:
        if p.known:
            continue
        record = n(BASE + "prediction/" + hashlib.sha1(f"{head} {relation} {p.iri} {model}".encode()).hexdigest())
        kg.update(f"DELETE WHERE {{ GRAPH <{g.value}> {{ <{record.value}> ?p ?o }} }}")
        quads += [ox.Quad(n(head), n(relation), n(p.iri), g),
                  ox.Quad(record, n(RDF.type), n(KGQA.Prediction), g),
                  ox.Quad(record, n(RDF.subject), n(head), g),
                  ox.Quad(record, n(RDF.predicate), n(relation), g),
                  ox.Quad(record, n(RDF.object), n(p.iri), g),
                  ox.Quad(record, n(KGQA.score), ox.Literal(repr(round(p.score, 6)), datatype=n(XSD.double)), g),
                  ox.Quad(record, n(KGQA.model), model_lit, g)]
    if quads:
        kg.store.extend(quads)
    return sum(not p.known for p in predictions)
