"""Shape and behaviour tests of the GNN layers and the KG <-> tensor conversions (4-node graphs)."""
from __future__ import annotations

import io

import pytest
import torch

from kg import KnowledgeGraph
from kg.io import read_delimited
from reasoning.gnn.convert import (fingerprint, fingerprint_drift, kg_to_tensors, tensors_to_triples,
                                   triples_to_tensors, with_inverse_edges)
from reasoning.gnn.layers import CompositionConv, QuestionRelationConv

# a 4-node path 0 -r0-> 1 -r1-> 2 -r2-> 3
EDGE_INDEX = torch.tensor([[0, 1, 2], [1, 2, 3]])
EDGE_TYPE = torch.tensor([0, 1, 2])


@pytest.mark.parametrize("num_bases", [None, 2])
def test_question_relation_conv_shapes(num_bases):
    conv = QuestionRelationConv(8, 16, num_relations=3, question_channels=5, num_bases=num_bases)
    out = conv(torch.randn(4, 8), EDGE_INDEX, EDGE_TYPE, torch.randn(5))
    assert out.shape == (4, 16)
    batched, gates = conv(torch.randn(4, 2, 8), EDGE_INDEX, EDGE_TYPE, torch.randn(2, 5), return_gates=True)
    assert batched.shape == (4, 2, 16)
    assert gates.shape == (3, 2) and bool(((gates >= 0) & (gates <= 1)).all())


def test_question_relation_conv_moves_scores_only_along_open_relations():
    conv = QuestionRelationConv(1, 1, num_relations=3, question_channels=3, relation_weights=False,
                                root_weight=False, bias=False)
    with torch.no_grad():  # the question (1, 0, 0) opens relation 0 only
        conv.question_proj.weight.copy_(torch.eye(conv.question_proj.out_features, 3))
        conv.question_proj.bias.zero_()
        conv.relation_key.zero_()
        conv.relation_key[0, 0], conv.relation_key[1, 0], conv.relation_key[2, 0] = 20.0, -20.0, -20.0
    x = torch.tensor([[1.0], [1.0], [0.0], [0.0]])
    out = conv(x, EDGE_INDEX, EDGE_TYPE, torch.tensor([1.0, 0.0, 0.0]))
    assert out[1, 0] > 0.99  # node 0 -> 1 over the open relation 0
    assert out[2, 0] < 0.01  # node 1 -> 2 over the closed relation 1
    with pytest.raises(ValueError):
        QuestionRelationConv(2, 3, num_relations=1, question_channels=2, relation_weights=False)


def test_question_relation_conv_is_differentiable_and_resettable():
    conv = QuestionRelationConv(4, 4, num_relations=3, question_channels=6, relation_features=torch.randn(3, 10))
    conv(torch.randn(4, 4), EDGE_INDEX, EDGE_TYPE, torch.randn(6)).sum().backward()
    assert conv.question_proj.weight.grad is not None and conv.feature_proj.weight.grad is not None
    conv.reset_parameters()
    assert torch.count_nonzero(conv.relation_key) == 0


def test_composition_conv_shapes():
    conv = CompositionConv(8, 6, num_relations=6)
    ei, et = with_inverse_edges(EDGE_INDEX, EDGE_TYPE, 3)
    h, z = conv(torch.randn(4, 8), ei, et, torch.randn(6, 8))
    assert h.shape == (4, 6) and z.shape == (6, 6)


def test_kg_round_trip_keeps_every_entity_fact_and_drops_labels():
    text = "Ada|knows|Charles\nCharles|lives in|London\nAda|lives in|London\nLondon|capital of|England\n"
    with KnowledgeGraph.open("memory") as kg:
        kg.store.extend(list(read_delimited(io.StringIO(text), "pipe")))
        graph = kg_to_tensors(kg)
    assert (graph.num_nodes, graph.num_relations, graph.num_edges) == (4, 3, 4)
    back = {(graph.label(s), graph.label(p), graph.label(o))
            for s, p, o in tensors_to_triples(graph.edge_index, graph.edge_type, graph.entities, graph.relations)}
    assert back == {("Ada", "knows", "Charles"), ("Charles", "lives in", "London"), ("Ada", "lives in", "London"),
                    ("London", "capital of", "England")}
    assert all(graph.entities[graph.entity_index[iri]] == iri for iri in graph.entities)
    assert graph.to_data().num_nodes == 4


def test_fingerprint_notices_new_relations_and_big_changes_but_not_small_ones():
    base = [(f"p{i}", "knows", f"p{i + 1}") for i in range(40)]
    old = fingerprint(triples_to_tensors(base))
    assert fingerprint_drift(old, fingerprint(triples_to_tensors(base + [("p0", "knows", "p9")]))) is None
    assert "never saw" in fingerprint_drift(old, fingerprint(triples_to_tensors(base + [("p0", "likes", "p1")])))
    assert "the model saw 41" in fingerprint_drift(old, fingerprint(triples_to_tensors(base[:20])))


def test_reasoner_paths_never_pass_back_through_the_topic():
    from reasoning.gnn.reasoner import MultiHopReasoner

    torch.manual_seed(0)
    net = MultiHopReasoner(torch.randn(2, 384), hidden=8)
    # 4 nodes, relation 0 both ways between the topic (0) and 1, and from 1 to 2 and 3; 1 is its inverse
    edges = torch.tensor([[0, 1, 1, 1, 2, 3], [1, 0, 2, 3, 1, 1]])
    types = torch.tensor([0, 1, 0, 0, 1, 1])
    topic = torch.zeros(4, 1)
    topic[0, 0] = 1
    with torch.no_grad():
        out = net(edges, types, topic, torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.bool),
                  torch.randn(1, 384), torch.zeros(1, 5, dtype=torch.long))
    assert all(float(h[0, 0]) == 0.0 for h in out.hop_scores)  # no score ever returns to the topic
    assert float(out.hop_scores[0][1, 0]) > 0  # while it does move forward


def test_each_hop_chooses_among_the_relations_leaving_its_frontier():
    from reasoning.gnn.reasoner import MultiHopReasoner

    torch.manual_seed(0)
    net = MultiHopReasoner(torch.randn(6, 384), hidden=8)  # 3 relations and their inverses
    # the 4-node path 0 -r0-> 1 -r1-> 2 -r2-> 3 with inverse edges (types 3, 4, 5)
    edges = torch.cat([EDGE_INDEX, EDGE_INDEX.flip(0)], dim=1)
    types = torch.cat([EDGE_TYPE, EDGE_TYPE + 3])
    scores = torch.zeros(4, 2)
    scores[0, 0] = 1.0  # question 0 stands on node 0, question 1 on node 2
    scores[2, 1] = 1.0
    with torch.no_grad():
        p, p_stop = net.frontier_choice(scores, edges, types, torch.randn(2, 8))
        _, dead = net.frontier_choice(torch.eye(4)[:, [3]], EDGE_INDEX, EDGE_TYPE, torch.randn(1, 8))
    assert p.shape == (6, 2) and torch.allclose(p.sum(0), torch.ones(2))
    assert float(p[0, 0]) == pytest.approx(1.0)  # only r0 leaves node 0
    assert set(torch.nonzero(p[:, 1] > 1e-3).flatten().tolist()) == {2, 4}  # r2 on, r1 back
    assert bool(((p_stop > 0) & (p_stop < 1)).all())
    # a frontier with nowhere to go (node 3, no inverse edges here) stops for sure
    assert float(dead[0]) == 1.0


def test_stop_decisions_give_one_answer_distribution_over_hop_counts():
    from reasoning.gnn.reasoner import MultiHopReasoner

    torch.manual_seed(0)
    net = MultiHopReasoner(torch.randn(6, 384), hidden=8, choice="stop")
    edges = torch.cat([EDGE_INDEX, EDGE_INDEX.flip(0)], dim=1)
    types = torch.cat([EDGE_TYPE, EDGE_TYPE + 3])
    topic = torch.zeros(4, 2)
    topic[0, :] = 1
    with torch.no_grad():
        out = net(edges, types, topic, torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool),
                  torch.randn(2, 384), torch.zeros(2, 5, dtype=torch.long))
    assert out.hop_weights.shape == (2, 3)
    assert torch.allclose(out.hop_weights.sum(-1), torch.ones(2))
    # the first hop has one way out of node 0, so all its score reaches node 1
    assert float(out.hop_scores[0][1, 0]) == pytest.approx(1.0)


def test_a_gates_model_saved_before_the_stop_parameters_still_loads():
    from reasoning.gnn.reasoner import ModelNotTrainedError, MultiHopReasoner, load_weights

    old = MultiHopReasoner(torch.randn(4, 384), hidden=8, choice="gates")
    state = {k: v for k, v in old.state_dict().items()
             if k not in {"stop_key", "stop_bias", "prior_weight", "coverage", "stop_cosine"}}
    load_weights(MultiHopReasoner(torch.randn(4, 384), hidden=8, choice="gates"), state)
    with pytest.raises(ModelNotTrainedError, match="kgqa train reasoner"):
        load_weights(MultiHopReasoner(torch.randn(4, 384), hidden=8, choice="stop"), state)


def test_distinct_reading_favours_a_word_that_singles_out_one_relation():
    from reasoning.gnn.reasoner import MultiHopReasoner, load_weights

    torch.manual_seed(0)
    labels = torch.randn(6, 384)
    net = MultiHopReasoner(labels, hidden=8, distinct=True)
    # token 0 is relation 2's label itself; token 1 is the mean of all labels (a "domain word")
    tokens = torch.stack([labels[2], labels.mean(0), torch.randn(384)]).unsqueeze(0)
    d = net.distinctness(tokens)[0]
    assert float(d[0]) > float(d[1]) + 0.5 and float(d[0]) > float(d[2])
    edges = torch.cat([EDGE_INDEX, EDGE_INDEX.flip(0)], dim=1)
    types = torch.cat([EDGE_TYPE, EDGE_TYPE + 3])
    topic = torch.zeros(4, 1)
    topic[0, 0] = 1
    with torch.no_grad():
        out = net(edges, types, topic, tokens, torch.ones(1, 3, dtype=torch.bool), torch.randn(1, 384),
                  torch.zeros(1, 3, dtype=torch.long))
    assert out.scores.shape == (4, 1) and bool(((out.scores >= 0) & (out.scores <= 1)).all())
    # a model saved without the distinct reading loads into one without it (its relation_read unused)
    plain = MultiHopReasoner(labels, hidden=8)
    load_weights(plain, {k: v for k, v in plain.state_dict().items() if k != "relation_read"})


def test_path_reasoner_moves_scores_along_whole_paths_and_drops_dead_ones():
    """The path reader's propagation on the 4-node chain: each candidate path moves the topic's score one
    relation per hop, a path that reaches nothing gets no weight, the topic is never an answer."""
    from reasoning.gnn.paths import PathReasoner, type_paths
    from reasoning.gnn.questions import PathIndex

    graph = triples_to_tensors([("a", "r0", "b"), ("b", "r1", "c"), ("c", "r2", "d")])
    paths = type_paths(PathIndex(graph), hops=3)
    assert (0, 1, 2) in paths and (0, 3) in paths and (0, 2) not in paths  # r2 never follows r0
    net = PathReasoner(paths, torch.randn(len(paths), 384), 6, top=2)
    edges = torch.cat([EDGE_INDEX, EDGE_INDEX.flip(0)], dim=1)
    types = torch.cat([EDGE_TYPE, EDGE_TYPE + 3])
    topic = torch.zeros(4, 2)
    topic[0, 0] = 1.0  # question 0 asks about node 0, question 1 about node 3
    topic[3, 1] = 1.0
    logits = torch.full((2, len(paths)), -5.0)
    logits[0, paths.index((0, 1))] = 5.0  # r0 then r1: node 2
    logits[0, paths.index((0, 1, 2))] = 4.0  # one more hop: node 3
    logits[0, paths.index((0, 3))] = 6.0  # out and back: only the topic, which a path never returns to
    logits[1, paths.index((5, 4))] = 5.0  # from node 3 back by r2 then r1: node 1
    with torch.no_grad():
        out = net(edges, types, topic, None, logits=logits)
    assert out.scores.shape == (4, 2)
    assert int(out.scores[:, 0].argmax()) == 2 and float(out.scores[3, 0]) > 0
    assert float(out.scores[0, 0]) == 0.0 and int(out.scores[:, 1].argmax()) == 1
    dead = out.paths[0].tolist().index(paths.index((0, 3)))
    assert float(out.weights[0, dead]) == 0.0  # reaches nothing but the topic: dropped
    assert float(out.weights[0].sum()) == pytest.approx(1.0)
    assert out.hop_weights(0)[1] > out.hop_weights(0)[2] > 0


def test_path_reader_adds_the_untouched_encoders_match_only_when_answering():
    """The zero-shot prior: eval-mode logits are the tuned match plus ``zero_shot * 20`` times the untouched
    MiniLM's cosine; training sees the tuned match alone; nothing new is saved."""
    from reasoning.gnn.paths import PRIOR_SCALE, PathReader

    vectors = torch.nn.functional.normalize(torch.randn(5, 384), dim=-1)
    texts = ["who directed X", "the films written by X"]
    plain, mixed = PathReader(vectors, zero_shot=0.0), PathReader(vectors, zero_shot=0.5)
    with torch.no_grad():
        mixed.head.weight.mul_(-1.0)  # a "tuned" reader that no longer agrees with the untouched encoder
        mixed.train()
        mixed.encoder.eval()  # training mode for the reader, but no dropout, so the numbers compare
        tuned_only = mixed(texts)
        mixed.eval()
        answering = mixed(texts)
        untouched = mixed.untuned(texts) @ vectors.t()
        plain.eval()
        base = plain(texts)
    assert torch.allclose(tuned_only, -base, atol=1e-4)  # the flipped head alone
    assert torch.allclose(answering, tuned_only + 0.5 * PRIOR_SCALE * untouched, atol=1e-4)
    # the untouched encoder's vectors are those an untrained reader starts from
    assert torch.allclose(base, PRIOR_SCALE * untouched, atol=1e-4)
    assert set(mixed.saved_state()) == set(plain.saved_state())
