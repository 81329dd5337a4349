"""Where the store's trained models live; no torch, so asking whether one exists stays cheap.

>>> from kg import KnowledgeGraph
>>> is_trained(KnowledgeGraph.open("memory"))
False
"""
from __future__ import annotations

from pathlib import Path

from kg.errors import KGQAError

MODEL_FILE = "model.pt"


def model_dir_for(kg, model_dir=None, kind: str = "reasoner") -> Path:
    """Where a model lives: ``model_dir`` when given, else ``<store folder>/models/<kind>``."""
    if model_dir is not None:
        return Path(model_dir)
    if getattr(kg.store, "kind", None) != "oxigraph":
        raise KGQAError(f"the {kind} model is saved inside the store folder, and this store "
                        f"({kg.store.kind}) has none; pass a model directory", code="E-GNN-MODEL-DIR")
    return Path(kg.store.location) / "models" / kind


def is_trained(kg, model_dir=None) -> bool:
    """Whether a reasoner model exists for this store."""
    try:
        return (model_dir_for(kg, model_dir) / MODEL_FILE).exists()
    except KGQAError:
        return False
