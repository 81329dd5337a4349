"""GNN reasoning over your own graph: a question-conditioned multi-hop reasoner and link prediction.

* :mod:`reasoning.gnn.layers` — PyG ``MessagePassing`` layers (question-gated relational, CompGCN-style).
* :mod:`reasoning.gnn.convert` — KG <-> tensors, with the node and relation index maps; fingerprints.
* :mod:`reasoning.gnn.questions` — training questions generated from the graph's own relation paths.
* :mod:`reasoning.gnn.reasoner` — the multi-hop reasoner (``kgqa train reasoner``, ``--method gnn``).
* :mod:`reasoning.gnn.paths` — its default question reader: whole relation paths matched by fine-tuned MiniLM.
* :mod:`reasoning.gnn.linkpred` — link prediction (``kgqa train linkpred``, ``kgqa predict``).

Importing this package registers the reasoner as ``"gnn"``; torch is imported only when a model runs.
"""
from __future__ import annotations


class GNNReasoner:
    """The ``gnn`` reasoner for :func:`reasoning.ask`: loads the model trained on this store and answers.

    The work lives in :mod:`reasoning.gnn.reasoner`; this shim keeps ``import reasoning.gnn`` light.
    """

    name = "gnn"

    def __init__(self, *, device: str | None = None):
        self.device = device

    def is_trained(self, kg) -> bool:
        """Whether this store has a trained reasoner (``ask --method auto`` only falls back to one that does)."""
        from reasoning.gnn.files import is_trained  # a file check: no torch

        return is_trained(kg)

    def answer(self, kg, question, *, k: int = 10):
        from reasoning.gnn.reasoner import answer_question

        return answer_question(kg, question, k=k, device=self.device)


def staleness(kg) -> str | None:
    """A warning when the graph changed enough since the reasoner was trained (None when fresh or untrained)."""
    from reasoning.gnn.reasoner import staleness as _staleness

    return _staleness(kg)


def _register() -> None:
    try:
        from reasoning.resolver import register_reasoner
    except ImportError:  # the QA layer is optional for the models themselves
        return
    register_reasoner("gnn", GNNReasoner)


_register()

__all__ = ["GNNReasoner", "staleness"]
