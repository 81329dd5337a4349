"""Relation-aware message passing layers (PyTorch Geometric ``MessagePassing``).

* :class:`QuestionRelationConv` — an RGCN-style layer whose relations are gated by a question
  (instruction) vector: the multi-hop reasoner follows the relations a question talks about.
* :class:`CompositionConv` — a CompGCN-style layer (entity * relation composition) used as the
  link-prediction encoder; it also updates the relation embeddings.

Both take ``edge_index``/``edge_type`` as built by :func:`reasoning.gnn.convert.kg_to_tensors`.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing


class QuestionRelationConv(MessagePassing):
    r"""Relational graph convolution gated by a question embedding.

    .. math::
        \mathbf{x}'_i = \mathbf{W}_0 \mathbf{x}_i + \sum_{(j, r, i)} g_r(\mathbf{q})\,
        \mathbf{W}_r \mathbf{x}_j, \qquad
        g_r(\mathbf{q}) = \sigma\big(\langle \mathbf{k}_r, \mathbf{W}_q \mathbf{q} \rangle + b\big)

    ``W_r`` uses basis decomposition (``num_bases``) as in RGCN. With ``relation_weights=False``
    messages are ``g_r(q) x_j`` (no transform, ``in_channels == out_channels``): the reasoner uses
    this form to move answer scores along the relations the question asks for, which keeps every
    score traceable to the edges that carried it.

    Several questions can share one graph: give ``question`` as ``[Q, question_channels]`` and ``x``
    as ``[N, Q, in_channels]``; question ``q`` then gates channel block ``q`` only.

    Args:
        in_channels (int): size of each input node feature.
        out_channels (int): size of each output node feature.
        num_relations (int): number of edge types.
        question_channels (int): size of the question embedding (384 for MiniLM).
        num_bases (int, optional): basis decomposition of ``W_r`` (default: one weight per relation).
        relation_weights (bool): transform messages by ``W_r`` (default ``True``).
        root_weight (bool): add ``W_0 x_i`` (default ``True``).
        bias (bool): learn an additive output bias (default ``True``).
        relation_features (Tensor, optional): ``[num_relations, F]`` fixed descriptions of the
            relations (e.g. MiniLM embeddings of their labels) that initialise the gate keys, so a
            question's wording meets the relation's label.
        **kwargs: passed to :class:`torch_geometric.nn.conv.MessagePassing` (``aggr`` defaults to ``"add"``).

    Shapes:
        - **input:** node features ``(N, F_in)`` or ``(N, Q, F_in)``, edge indices ``(2, E)``,
          edge types ``(E,)``, question ``(F_q,)``, ``(1, F_q)`` or ``(Q, F_q)``
        - **output:** node features ``(N, F_out)`` or ``(N, Q, F_out)``; with
          ``return_gates=True`` also the relation gates ``(num_relations, Q)``

    Example:
        >>> conv = QuestionRelationConv(8, 4, num_relations=3, question_channels=5)
        >>> x, q = torch.randn(4, 8), torch.randn(5)
        >>> edge_index, edge_type = torch.tensor([[0, 1, 2], [1, 2, 3]]), torch.tensor([0, 1, 2])
        >>> conv(x, edge_index, edge_type, q).shape
        torch.Size([4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int, question_channels: int, *,
                 num_bases: int | None = None, relation_weights: bool = True, root_weight: bool = True,
                 bias: bool = True, key_channels: int = 64, relation_features: Tensor | None = None, **kwargs):
        kwargs.setdefault("aggr", "add")
        super().__init__(node_dim=0, **kwargs)
        if not relation_weights and in_channels != out_channels:
            raise ValueError("relation_weights=False passes features through: in_channels must equal out_channels")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_relations, self.question_channels = num_relations, question_channels
        self.num_bases = num_bases
        self.relation_weights = relation_weights
        self.question_proj = nn.Linear(question_channels, key_channels)
        self.relation_key = nn.Parameter(torch.empty(num_relations, key_channels))
        if relation_features is not None:
            self.register_buffer("relation_features", relation_features.detach().float().clone())
            self.feature_proj = nn.Linear(relation_features.size(1), key_channels, bias=False)
        else:
            self.relation_features = None
            self.feature_proj = None
        self.gate_bias = nn.Parameter(torch.empty(1))
        if relation_weights:
            if num_bases is not None:
                self.weight = nn.Parameter(torch.empty(num_bases, in_channels, out_channels))
                self.comp = nn.Parameter(torch.empty(num_relations, num_bases))
            else:
                self.weight = nn.Parameter(torch.empty(num_relations, in_channels, out_channels))
                self.register_parameter("comp", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("comp", None)
        self.root = nn.Linear(in_channels, out_channels, bias=False) if root_weight else None
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        self.question_proj.reset_parameters()
        # learned keys start at zero when label features exist: the labels speak first
        if self.feature_proj is not None:
            nn.init.zeros_(self.relation_key)
            self.feature_proj.reset_parameters()
        else:
            nn.init.normal_(self.relation_key, std=1.0 / math.sqrt(self.relation_key.size(1)))
        nn.init.zeros_(self.gate_bias)
        if self.weight is not None:
            nn.init.xavier_uniform_(self.weight)
        if self.comp is not None:
            nn.init.xavier_uniform_(self.comp)
        if self.root is not None:
            self.root.reset_parameters()
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def relation_logits(self, question: Tensor) -> Tensor:
        """How well every relation matches every question, ``(num_relations, Q)`` (before the sigmoid)."""
        q = question.reshape(-1, self.question_channels)
        keys = self.relation_key
        if self.feature_proj is not None:
            keys = keys + self.feature_proj(self.relation_features)
        return keys @ self.question_proj(q).t() + self.gate_bias

    def relation_gates(self, question: Tensor) -> Tensor:
        """Gate of every relation for every question, ``(num_relations, Q)`` in ``[0, 1]``."""
        return torch.sigmoid(self.relation_logits(question))

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor, question: Tensor | None,
                return_gates: bool = False, gates: Tensor | None = None):
        """``gates`` ``(num_relations, Q)`` replaces the question's sigmoid gates when given (``question`` may then be None)."""
        if gates is None:
            gates = self.relation_gates(question)  # [R, Q]
        batched = x.dim() == 3
        if not batched:
            x3 = x.unsqueeze(1)
            if gates.size(1) != 1:
                raise ValueError("one question per call when x is (N, F); give x as (N, Q, F) for several")
        else:
            x3 = x
        n = x3.size(0)
        if self.weight is None:
            out = self.propagate(edge_index, x=x3, edge_type=edge_type, gates=gates, size=(n, n))
        elif self.comp is not None:
            # RGCN basis trick: transform by each basis once per node, mix per edge
            xb = torch.einsum("nqi,bio->nbqo", x3, self.weight)
            out = self.propagate(edge_index, x=xb, edge_type=edge_type, gates=gates, size=(n, n))
        else:
            xw = torch.einsum("nqi,rio->nrqo", x3, self.weight)
            out = self.propagate(edge_index, x=xw, edge_type=edge_type, gates=gates, size=(n, n))
        if self.root is not None:
            out = out + self.root(x3)
        if self.bias is not None:
            out = out + self.bias
        if not batched:
            out = out.squeeze(1)
        return (out, gates) if return_gates else out

    def message(self, x_j: Tensor, edge_type: Tensor, gates: Tensor) -> Tensor:
        if self.weight is not None:
            if self.comp is not None:
                x_j = torch.einsum("ebqo,eb->eqo", x_j, self.comp[edge_type])
            else:
                x_j = x_j[torch.arange(x_j.size(0), device=x_j.device), edge_type]
        return x_j * gates[edge_type].unsqueeze(-1)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"num_relations={self.num_relations}, question_channels={self.question_channels})")


class CompositionConv(MessagePassing):
    r"""CompGCN-style relational convolution with multiplicative composition.

    .. math::
        \mathbf{x}'_i = \mathbf{W}_0 \mathbf{x}_i + \frac{1}{|\mathcal{N}(i)|}\sum_{(j, r, i)}
        \mathbf{W}_{d(r)} (\mathbf{x}_j \odot \mathbf{z}_r), \qquad \mathbf{z}'_r = \mathbf{W}_{rel} \mathbf{z}_r

    ``d(r)`` tells original from inverse edges (``r >= num_relations // 2`` when the graph carries
    both, see :func:`reasoning.gnn.convert.with_inverse_edges`). Messages cost ``O(E * F)``: no
    per-relation matrices, so it runs on FB15k-237-sized graphs on a CPU.

    Args:
        in_channels (int): size of each input node feature.
        out_channels (int): size of each output node feature.
        num_relations (int): number of edge types (original + inverse).
        inverse_split (bool): use separate weights for the second half of the relation ids.
        **kwargs: passed to :class:`torch_geometric.nn.conv.MessagePassing` (``aggr`` defaults to ``"mean"``).

    Shapes:
        - **input:** node features ``(N, F_in)``, edge indices ``(2, E)``, edge types ``(E,)``,
          relation features ``(num_relations, F_in)``
        - **output:** node features ``(N, F_out)`` and relation features ``(num_relations, F_out)``

    Example:
        >>> conv = CompositionConv(8, 4, num_relations=2)
        >>> h, z = conv(torch.randn(4, 8), torch.tensor([[0, 1], [1, 2]]), torch.tensor([0, 1]), torch.randn(2, 8))
        >>> h.shape, z.shape
        (torch.Size([4, 4]), torch.Size([2, 4]))
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int, *, inverse_split: bool = True,
                 **kwargs):
        kwargs.setdefault("aggr", "mean")
        super().__init__(**kwargs)
        self.in_channels, self.out_channels, self.num_relations = in_channels, out_channels, num_relations
        self.inverse_split = inverse_split and num_relations >= 2
        self.w_in = nn.Linear(in_channels, out_channels, bias=False)
        self.w_out = nn.Linear(in_channels, out_channels, bias=False) if self.inverse_split else None
        self.w_root = nn.Linear(in_channels, out_channels, bias=False)
        self.w_rel = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        for lin in (self.w_in, self.w_out, self.w_root, self.w_rel):
            if lin is not None:
                lin.reset_parameters()
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor, relation_x: Tensor):
        if self.w_out is not None:
            inverse = edge_type >= self.num_relations // 2
            fwd = self.propagate(edge_index[:, ~inverse], x=x, edge_type=edge_type[~inverse], relation_x=relation_x,
                                 size=(x.size(0), x.size(0)))
            bwd = self.propagate(edge_index[:, inverse], x=x, edge_type=edge_type[inverse], relation_x=relation_x,
                                 size=(x.size(0), x.size(0)))
            out = self.w_in(fwd) + self.w_out(bwd)
        else:
            out = self.w_in(self.propagate(edge_index, x=x, edge_type=edge_type, relation_x=relation_x,
                                           size=(x.size(0), x.size(0))))
        return out + self.w_root(x) + self.bias, self.w_rel(relation_x)

    def message(self, x_j: Tensor, edge_type: Tensor, relation_x: Tensor) -> Tensor:
        return x_j * relation_x[edge_type]

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, num_relations={self.num_relations})"
