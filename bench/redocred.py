"""Re-DocRED dev: document-level relation extraction and entity clustering with the default pipeline.

Builds one graph from the plain text of Re-DocRED dev documents (tokens joined with spaces) with the
default kgqa pipeline (``nlp/pipeline.cfg``, default schema), then reports

(a) gold triples found: a predicted schema fact matches a gold ``(h, r, t)`` when the relation's
    Wikidata id (``pid`` in the schema) is ``r`` and the subject/object entities share a normalised
    name or alias with a mention of the gold ``h``/``t`` cluster (dates: the same parsed date, or
    the same year when one side has only a year). Precision counts only facts whose relation has a
    pid among Re-DocRED's 96 properties; open relations are not counted. Printed overall and per
    relation for the most frequent gold relations, with the "entity ceiling" (gold triples whose two
    entities were both extracted at all);
(b) entity clustering against the gold ``vertexSet``: B³ precision/recall/F1 over the gold name
    mentions (TIME and NUM left out: the pipeline keeps dates as literals), each gold mention taking
    the cluster of the predicted mention that overlaps it most (none: a singleton), plus the share of
    gold mentions detected at all.

Also printed: how often facts of each stated confidence band match a gold triple (a check of the
confidence calibration; Re-DocRED's gold is not exhaustive, so these are lower bounds).

    nice -n 10 .venv/bin/python bench/redocred.py --limit 100
    nice -n 10 .venv/bin/python bench/redocred.py            # all 500 documents

Prints tables; never asserts. Nothing here tunes the pipeline on this data.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def doc_text(sents: list[list[str]]) -> tuple[str, list[list[tuple[int, int]]]]:
    """Plain text of a document (tokens joined by spaces) and each token's character span."""
    parts, spans, pos = [], [], 0
    for sent in sents:
        row = []
        for tok in sent:
            if parts:
                parts.append(" ")
                pos += 1
            row.append((pos, pos + len(tok)))
            parts.append(tok)
            pos += len(tok)
        spans.append(row)
    return "".join(parts), spans


def b_cubed(gold: dict, pred: dict) -> tuple[float, float]:
    """B³ precision and recall over the items of ``gold`` (item -> cluster); ``pred`` maps the same items."""
    g_members, p_members = defaultdict(set), defaultdict(set)
    for item, c in gold.items():
        g_members[c].add(item)
        p_members[pred[item]].add(item)
    p = r = 0.0
    for item in gold:
        g, q = g_members[gold[item]], p_members[pred[item]]
        inter = len(g & q)
        p += inter / len(q)
        r += inter / len(g)
    n = max(1, len(gold))
    return p / n, r / n


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="folder holding redocred/")
    parser.add_argument("--limit", type=int, default=None, help="first N dev documents (default: all 500)")
    parser.add_argument("--top", type=int, default=15, help="relations shown in the per-relation table")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from kg import KnowledgeGraph
    from nlp.dates import parse_date
    from nlp.linking import normalise
    from nlp.pipeline import doc_to_extraction, load_pipeline

    data_dir = Path(args.data) / "redocred"
    docs = json.loads((data_dir / "dev_revised.json").read_text(encoding="utf-8"))
    rel_info = json.loads((data_dir / "rel_info.json").read_text(encoding="utf-8"))
    docs = docs[: args.limit] if args.limit else docs

    started = time.monotonic()
    nlp = load_pipeline()
    schema = nlp.get_pipe("kgqa_relation_extractor").schema
    pid_of = {r.name: r.pid for r in schema}
    load_seconds = time.monotonic() - started

    texts = [doc_text(d["sents"]) for d in docs]
    words = sum(len(t) for d in docs for t in d["sents"])
    tp_pred = n_pred = n_pred_other = 0
    gold_found = n_gold = gold_ceiling = 0
    per_rel = defaultdict(Counter)
    by_conf = defaultdict(Counter)
    b3_p = b3_r = 0.0
    b3_docs = 0
    detected = total_mentions = 0
    started = time.monotonic()
    with KnowledgeGraph.open("memory") as kg:
        pairs = ((text, str(i)) for i, (text, _) in enumerate(texts))
        for doc, doc_id in nlp.pipe(pairs, as_tuples=True, batch_size=args.batch_size):
            i = int(doc_id)
            gold = docs[i]
            ext = doc_to_extraction(doc, f"redocred-{i}", nlp=nlp)
            kg.add_document(f"redocred-{i}", ext.facts, entities=ext.entities, relations=ext.relations)
            # ---- (a) triples
            names = {e.iri: {normalise(n) for n in (e.label, *e.aliases)} for e in ext.entities}
            gold_names = [{normalise(m["name"]) for m in v} for v in gold["vertexSet"]]
            gold_dates = [{parse_date(m["name"]) for m in v} - {None} for v in gold["vertexSet"]]

            def matches(term, vi):
                if hasattr(term, "datatype") and term.datatype is not None:
                    value = str(term)
                    return any(d[0] == value or (d[0][:4] == value[:4] and ("gYear" in (d[1], str(term.datatype)[-5:])))
                               for d in gold_dates[vi])
                return bool(names.get(term, set()) & gold_names[vi])

            gold_triples = {(lab["h"], lab["r"], lab["t"]) for lab in gold["labels"]}
            n_gold += len(gold_triples)
            for h, r, t in gold_triples:
                per_rel[r]["gold"] += 1
            found_gold = set()
            for f in ext.facts:
                name = str(f.predicate).rsplit("/", 1)[-1]
                pid = pid_of.get(name)
                if f.source.extractor == "open_relations" or pid is None:
                    continue
                if pid not in rel_info:
                    n_pred_other += 1
                    continue
                n_pred += 1
                per_rel[pid]["pred"] += 1
                hits = {(h, r, t) for h, r, t in gold_triples if r == pid and matches(f.subject, h) and matches(f.object, t)}
                bucket = min(9, int(f.confidence * 10))
                by_conf[bucket]["pred"] += 1
                by_conf[bucket]["ok"] += bool(hits)
                if hits:
                    tp_pred += 1
                    per_rel[pid]["pred_ok"] += 1
                    found_gold |= hits
            gold_found += len(found_gold)
            for h, r, t in found_gold:
                per_rel[r]["found"] += 1
            extracted = [any(matches(e.iri, vi) for e in ext.entities) for vi in range(len(gold["vertexSet"]))]
            for h, r, t in gold_triples:
                date_t = bool(gold_dates[t])
                if extracted[h] and (extracted[t] or date_t):
                    gold_ceiling += 1
                    per_rel[r]["ceiling"] += 1
            # ---- (b) clustering
            spans = texts[i][1]
            ments = [(doc[m.start].idx, doc[m.end - 1].idx + len(doc[m.end - 1].text), m.cluster)
                     for m in (doc._.kgqa_mentions or []) if m.cluster is not None]
            g_map, p_map = {}, {}
            for vi, vertex in enumerate(gold["vertexSet"]):
                for mi, m in enumerate(vertex):
                    if m["type"] in ("TIME", "NUM"):
                        continue
                    s_tok, e_tok = m["pos"]
                    if m["sent_id"] >= len(spans) or e_tok > len(spans[m["sent_id"]]):
                        continue
                    cs, ce = spans[m["sent_id"]][s_tok][0], spans[m["sent_id"]][e_tok - 1][1]
                    key = (vi, mi)
                    g_map[key] = vi
                    best, best_overlap = None, 0
                    for ps, pe, cid in ments:
                        overlap = min(ce, pe) - max(cs, ps)
                        if overlap > best_overlap:
                            best, best_overlap = cid, overlap
                    total_mentions += 1
                    if best is not None:
                        detected += 1
                        p_map[key] = ("p", best)
                    else:
                        p_map[key] = ("single", key)
            if g_map:
                p, r = b_cubed(g_map, p_map)
                b3_p += p
                b3_r += r
                b3_docs += 1
        seconds = time.monotonic() - started
        stats = kg.stats()

    def pct(a, b):
        return f"{100.0 * a / b:5.1f}" if b else "  n/a"

    print(f"Re-DocRED dev: {len(docs)} documents, {words} words; pipeline load {load_seconds:.1f} s, "
          f"extraction + writing {seconds:.1f} s ({words / max(seconds, 1e-9):.0f} words/s)")
    print(f"graph: {stats['triples']} triples, {stats['entities']} entities, {stats['relations']} predicates, "
          f"{stats['statements']} fact records")
    print()
    print("(a) gold triples (entities matched by name/alias, relation by Wikidata id)")
    print(f"  {'':24} {'precision':>9} {'recall':>7} {'F1':>6}")
    prec, rec = (tp_pred / n_pred if n_pred else 0.0), (gold_found / n_gold if n_gold else 0.0)
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    print(f"  {'all relations':24} {100 * prec:9.1f} {100 * rec:7.1f} {100 * f1:6.1f}")
    print(f"  predicted schema facts scored: {n_pred} ({tp_pred} correct); with a pid outside Re-DocRED: {n_pred_other}")
    print(f"  gold triples: {n_gold}; found: {gold_found}; entity ceiling (both entities extracted): "
          f"{gold_ceiling} ({pct(gold_ceiling, n_gold)} %)")
    print()
    print(f"  {'pid':6} {'relation':32} {'gold':>5} {'found':>5} {'recall':>6} {'pred':>5} {'prec':>5} {'ceiling':>7}")
    for pid, c in sorted(per_rel.items(), key=lambda kv: -kv[1]["gold"])[: args.top]:
        in_schema = "" if pid in pid_of.values() else " (not in schema)"
        print(f"  {pid:6} {(rel_info.get(pid, pid) + in_schema)[:32]:32} {c['gold']:5d} {c['found']:5d} "
              f"{pct(c['found'], c['gold']):>6} {c['pred']:5d} {pct(c['pred_ok'], c['pred']):>5} "
              f"{pct(c['ceiling'], c['gold']):>7}")
    covered = {pid for pid in pid_of.values() if pid in rel_info}
    cov_gold = sum(c["gold"] for pid, c in per_rel.items() if pid in covered)
    cov_found = sum(c["found"] for pid, c in per_rel.items() if pid in covered)
    print(f"  relations of the default schema that Re-DocRED uses: {len(covered)} of 96; their gold triples: "
          f"{cov_gold}, recall on them {pct(cov_found, cov_gold)} %")
    print()
    print("  calibration: share of predicted facts that match a gold triple, by stated confidence")
    print(f"  {'confidence':12} {'facts':>6} {'correct':>8}")
    for bucket in sorted(by_conf):
        c = by_conf[bucket]
        print(f"  [{bucket / 10:.1f}, {(bucket + 1) / 10:.1f})   {c['pred']:6d} {pct(c['ok'], c['pred']):>7} %")
    print()
    print("(b) entity clustering vs gold vertexSet (B³ over gold name mentions, TIME/NUM excluded)")
    bp, br = (b3_p / b3_docs, b3_r / b3_docs) if b3_docs else (0.0, 0.0)
    bf = 2 * bp * br / (bp + br) if bp + br else 0.0
    print(f"  B3 precision {100 * bp:.1f}  recall {100 * br:.1f}  F1 {100 * bf:.1f}  (macro over {b3_docs} documents)")
    print(f"  gold mentions detected: {detected} of {total_mentions} ({pct(detected, total_mentions)} %)")


if __name__ == "__main__":
    main()
