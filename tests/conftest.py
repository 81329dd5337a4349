"""Shared fixtures: the same store test suite runs on every store kind (rdflib's habit)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def films():
    """A small film graph (tests/data/qa_films.txt) in memory; one per test module, which may change it."""
    from kg import KnowledgeGraph

    kg = KnowledgeGraph.open("memory")
    kg.import_file(DATA / "qa_films.txt", "pipe")
    yield kg
    kg.close()


@pytest.fixture(scope="module")
def people():
    """tests/data/qa_people.ttl: typed people, cities and countries, a symmetric spouse relation; one per
    test module."""
    from kg import KnowledgeGraph

    kg = KnowledgeGraph.open("memory")
    kg.import_file(DATA / "qa_people.ttl", "turtle")
    yield kg
    kg.close()


#: encoder name that :func:`patch_tiny_encoder` routes to a seeded 2-layer random BERT
TINY_ENCODER = "tiny-test-bert"


def patch_tiny_encoder(mp: pytest.MonkeyPatch) -> None:
    """Make ``nlp.relation_model._load_encoder("tiny-test-bert")`` return MiniLM's tokenizer and a
    seeded random BERT of width 32 (the same weights every call), so document-level models train in
    seconds in tests."""
    import torch

    import nlp.relation_model as rm

    original = rm._load_encoder
    cache = {}

    def load(package):
        if package != TINY_ENCODER:
            return original(package)
        from transformers import BertConfig, BertModel

        if "tok" not in cache:
            cache["tok"] = original(rm.ENCODER_PACKAGE)[0]
        state = torch.random.get_rng_state()
        torch.manual_seed(1234)
        cfg = BertConfig(vocab_size=cache["tok"].vocab_size, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=4, intermediate_size=64, max_position_embeddings=512)
        model = BertModel(cfg, add_pooling_layer=False)
        torch.random.set_rng_state(state)
        return cache["tok"], model

    mp.setattr(rm, "_load_encoder", load)
    rm._PRETRAINED.pop(TINY_ENCODER, None)


@pytest.fixture
def tiny_encoder(monkeypatch):
    patch_tiny_encoder(monkeypatch)
    yield
    import nlp.relation_model as rm

    rm._PRETRAINED.pop(TINY_ENCODER, None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _oxigraph_binary() -> str | None:
    exe = Path(sys.executable).parent / "oxigraph"
    return str(exe) if exe.exists() else shutil.which("oxigraph")


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory):
    """A real Oxigraph SPARQL server (from the `oxigraph` PyPI package) on 127.0.0.1."""
    exe = _oxigraph_binary()
    if exe is None:
        pytest.fail("the oxigraph server binary is missing: run `make install`")
    port = free_port()
    location = tmp_path_factory.mktemp("oxigraph-server")
    proc = subprocess.Popen([exe, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import httpx

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(url + "/query", params={"query": "ASK {}"}, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            err = proc.stderr.read().decode() if proc.stderr else ""
            proc.kill()
            pytest.fail(f"oxigraph server did not start: {err[:500]}")
        time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


STORE_KINDS = ["memory", "disk", "remote"]


@pytest.fixture(params=STORE_KINDS)
def kg(request, tmp_path):
    """A fresh KnowledgeGraph on each store kind."""
    from kg import KnowledgeGraph

    if request.param == "memory":
        graph = KnowledgeGraph.open("memory")
    elif request.param == "disk":
        graph = KnowledgeGraph.open(tmp_path / "store")
    else:
        url = request.getfixturevalue("oxigraph_server")
        graph = KnowledgeGraph.open(f"sparql+{url}/query", update_url=f"{url}/update")
        graph.update("CLEAR ALL")
    yield graph
    graph.close()
