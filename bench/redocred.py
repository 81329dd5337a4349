"""Re-DocRED dev: document-level relation extraction, end to end and with gold entities.

Re-DocRED dev is both training and measuring data here: the shipped document-level model learned
from documents 0-399, so everything is measured on documents 400-499 by default (``--docs``).

(0) with gold entities (the standard DocRED setting), when a document-level model is present:
    relation precision/recall/F1, Ign F1 (facts whose names occur in the training documents left
    out), evidence scores, and a reliability table of the stated confidence with its expected
    calibration error (also cross-fitted: the calibration refitted on one half, measured on the
    other, so the table is not read on the data it was fitted on).

Then builds one graph from the plain text of the documents (tokens joined with spaces) with the
kgqa pipeline (default: the document-level model; ``--fast``: sentence-level only) and reports

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

(c) questions over that graph: one template question per gold triple of the 40 most frequent
    relations ("Where was X born?", "Which country is X in?"), asked with :func:`reasoning.ask`;
    Hits@1 = the top answer is a gold tail of that head and relation; also the share right among
    questions whose gold triple is in the built graph (answering apart from extraction).

Also printed: how often facts of each stated confidence band match a gold triple (a check of the
confidence calibration; Re-DocRED's gold is not exhaustive, so these are lower bounds).

    nice -n 10 .venv/bin/python bench/redocred.py                  # documents 400-499
    nice -n 10 .venv/bin/python bench/redocred.py --fast           # the sentence-level pipeline
    nice -n 10 .venv/bin/python bench/redocred.py --replace        # the document model's facts alone
    nice -n 10 .venv/bin/python bench/redocred.py --docs 0:500 --fast

Prints tables; never asserts. Nothing here tunes the pipeline on this data.
"""
from __future__ import annotations

import argparse
import json
import math
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


#: question templates for the 40 relations most frequent in documents 0-399 (X: the head's name)
TEMPLATES = {
    "P131": "Where is {} located?", "P17": "Which country is {} in?", "P27": "Which country is {} a citizen of?",
    "P150": "What does {} contain?", "P800": "What is a notable work of {}?", "P527": "What are the parts of {}?",
    "P361": "What is {} part of?", "P175": "Who performed {}?", "P463": "What is {} a member of?",
    "P577": "When was {} published?", "P1344": "Which event did {} participate in?",
    "P710": "Who participated in {}?", "P1001": "Which jurisdiction does {} apply to?",
    "P495": "What is the country of origin of {}?", "P264": "Which record label released {}?",
    "P571": "When was {} founded?", "P569": "When was {} born?", "P161": "Who starred in {}?",
    "P206": "Which body of water is {} next to?", "P30": "Which continent is {} on?", "P570": "When did {} die?",
    "P1441": "Which work does {} appear in?", "P127": "Who owns {}?", "P19": "Where was {} born?",
    "P607": "Which conflict did {} fight in?", "P140": "What is the religion of {}?",
    "P706": "Which terrain feature is {} located on?", "P3373": "Who is the sibling of {}?",
    "P170": "Who created {}?", "P40": "Who is the child of {}?", "P156": "What followed {}?",
    "P155": "What did {} follow?", "P26": "Who is the spouse of {}?", "P178": "Who developed {}?",
    "P276": "What is the location of {}?", "P54": "Which sports team did {} play for?",
    "P6": "Who is the head of government of {}?", "P50": "Who wrote {}?", "P176": "Who manufactured {}?",
    "P86": "Who composed {}?",
}


def gold_entity_scores(model_dir, data_file, docs, train_docs) -> None:
    """(0): the document-level model on the gold entities of ``docs``."""
    from nlp.docre.data import read_docred
    from nlp.docre.train import (fit_calibration, load_docre, reliability, score_predictions,
                                 train_fact_names)

    model = load_docre(model_dir)
    gold = read_docred(data_file, docs=docs).documents
    train = read_docred(data_file, docs=train_docs).documents
    started = time.monotonic()
    preds = model.predict(gold)
    seconds = time.monotonic() - started
    s = score_predictions(gold, preds, train_names=train_fact_names(train))
    rel, ev = s["relations"], s["evidence"]
    print(f"(0) gold entities: {len(gold)} documents, model {model_dir} "
          f"(trained on {model.config.trained.get('documents', '?')} documents; {seconds:.1f} s to predict)")
    print(f"  relations  P {100 * rel['precision']:.1f}  R {100 * rel['recall']:.1f}  F1 {100 * rel['f1']:.1f}  "
          f"Ign F1 {100 * s['ign_f1']:.1f}  ({rel['tp']} of {rel['predicted']} predicted right, {rel['gold']} gold)")
    print(f"  evidence (correct facts with gold evidence)  P {100 * ev['precision']:.1f}  R {100 * ev['recall']:.1f}"
          f"  F1 {100 * ev['f1']:.1f};  cited sentences contain all gold evidence: "
          f"{100 * s['evidence_contains_gold']:.1f} %")
    print(f"  entity types: {100 * s['entity_type_accuracy']:.1f} % right")
    rows = [r for doc, pred in zip(gold, preds) for r in _doc_rows(doc, pred)]
    table = reliability([r[0] for r in rows], [r[2] for r in rows])
    print(f"  calibration as shipped (fitted {model.config.trained.get('calibrated_on', 'on the measuring documents')}):"
          f" ECE {100 * table['ece']:.1f} points over {table['facts']} predicted facts")
    print(f"  {'confidence':12} {'facts':>6} {'mean conf':>9} {'right':>6}")
    for b in table["bins"]:
        print(f"  [{b['bin'][0]:.1f}, {b['bin'][1]:.1f})   {b['facts']:6d} {100 * b['confidence']:8.1f}% "
              f"{100 * b['correct']:5.1f}%")
    half = len(gold) // 2
    conf, right = [], []
    for fit, test in ((range(half), range(half, len(gold))), (range(half, len(gold)), range(half))):
        fit_rows = [r for d in fit for r in _doc_rows(gold[d], preds[d])]
        a, b = fit_calibration([r[1] for r in fit_rows], [r[2] for r in fit_rows])
        for d in test:
            for _, margin, ok in _doc_rows(gold[d], preds[d]):
                conf.append(1 / (1 + math.exp(-(a * margin + b))))
                right.append(ok)
    cross = reliability(conf, right)
    print(f"  cross-fitted (calibration fitted on one half of these documents, read on the other): "
          f"ECE {100 * cross['ece']:.1f} points")
    print()


def _doc_rows(doc, pred):
    g = {(f.head, f.tail, f.relation) for f in doc.facts}
    return [(p.score, p.margin, (p.head, p.tail, p.relation) in g) for p in pred.facts]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="folder holding redocred/")
    parser.add_argument("--docs", default="400:500", help="documents measured (default 400:500, the measuring part)")
    parser.add_argument("--train-docs", default="0:400", help="the model's training documents (for Ign F1)")
    parser.add_argument("--fast", action="store_true", help="sentence-level pipeline only (kgqa build --fast)")
    parser.add_argument("--replace", action="store_true",
                        help="the document model's facts replace the sentence extractor's for its relations")
    parser.add_argument("--model", default=None, help="a document-level model folder (default: the shipped one)")
    parser.add_argument("--no-questions", action="store_true", help="skip the template questions (c)")
    parser.add_argument("--top", type=int, default=15, help="relations shown in the per-relation table")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--store", default=None, metavar="DIR",
                        help="build the graph in this folder, or reuse it when it was built for the same documents "
                             "and options (then (0) is skipped and (a)/(b) are the build run's)")
    parser.add_argument("--in-graph-only", action="store_true",
                        help="(c): ask only the questions whose gold fact is in the graph (faster; no Hits@1 over all)")
    parser.add_argument("--misses", default=None, metavar="FILE",
                        help="write the questions whose gold fact is in the graph but were answered wrong "
                             "(question, gold, answer, the planner's SPARQL and evidence) to this JSON lines file")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from kg import KnowledgeGraph
    from nlp.dates import parse_date
    from nlp.docre.data import parse_slice
    from nlp.linking import normalise
    from nlp.pipeline import document_model

    data_dir = Path(args.data) / "redocred"
    data_file = data_dir / "dev_revised.json"
    all_docs = json.loads(data_file.read_text(encoding="utf-8"))
    rel_info = json.loads((data_dir / "rel_info.json").read_text(encoding="utf-8"))
    window = parse_slice(args.docs)
    first = window.start or 0
    docs = all_docs[window]
    print(f"Re-DocRED dev documents {args.docs} ({len(docs)} documents)\n")
    docre_dir = document_model(args.model, fast=args.fast)
    key = {"docs": args.docs, "fast": args.fast, "replace": args.replace, "model": str(docre_dir),
           "data": str(data_file.resolve()), "data_bytes": data_file.stat().st_size, "batch_size": args.batch_size}
    report = _stored_report(args.store, key)
    if report is None and docre_dir is not None:
        gold_entity_scores(docre_dir, data_file, window, parse_slice(args.train_docs))
    elif report is not None:
        print(f"(graph reused from {args.store}, built for the same documents and options: (0) skipped, "
              f"(a) and (b) as measured when it was built)\n")

    location = "memory" if args.store is None else args.store
    with KnowledgeGraph.open(location) as kg:
        if report is None:
            if args.store is not None and kg.stats()["triples"]:
                raise SystemExit(f"{args.store} holds a graph built for other documents or options "
                                 f"(or an unfinished build): give an empty folder, or remove it to rebuild")
            report = build_graph(kg, docs, first, args, parse_date, normalise)
            if args.store is not None:
                (Path(args.store) / BUILD_FILE).write_text(json.dumps({"key": key, "report": report}),
                                                           encoding="utf-8")
        graph_facts = {int(i): {tuple(t) for t in found} for i, found in report["graph_facts"].items()}
        questions = None if args.no_questions else ask_templates(kg, docs, graph_facts, parse_date, normalise,
                                                                 misses=args.misses, first=first,
                                                                 in_graph_only=args.in_graph_only)
    r = report
    tp_pred, n_pred, n_pred_other = r["tp_pred"], r["n_pred"], r["n_pred_other"]
    gold_found, n_gold, gold_ceiling = r["gold_found"], r["n_gold"], r["gold_ceiling"]
    per_rel = defaultdict(Counter, {pid: Counter(c) for pid, c in r["per_rel"].items()})
    by_conf = {int(b): Counter(c) for b, c in r["by_conf"].items()}
    b3_p, b3_r, b3_docs = r["b3_p"], r["b3_r"], r["b3_docs"]
    detected, total_mentions = r["detected"], r["total_mentions"]
    seconds, stats, load_seconds, words, pid_of = r["seconds"], r["stats"], r["load_seconds"], r["words"], r["pid_of"]

    def pct(a, b):
        return f"{100.0 * a / b:5.1f}" if b else "  n/a"

    kind = "--fast (sentence-level)" if args.fast else f"document-level model {docre_dir}"
    print(f"end to end, {kind}: {len(docs)} documents, {words} words; pipeline load {load_seconds:.1f} s, "
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

    if questions is not None:
        print()
        n, right, in_graph, right_in_graph, right_in_any, per = questions
        print(f"(c) template questions over the built graph (one per gold triple of the 40 most frequent relations)"
              + ("; --in-graph-only: only those whose gold fact is in the graph asked" if args.in_graph_only else ""))
        print(f"  Hits@1 {pct(right, n)} % of {n};  gold fact in the graph for {in_graph} of them, "
              f"answered right: {pct(right_in_graph, in_graph)} %")
        print(f"  (of those, right by the gold of any measured document that asks the same question: "
              f"{pct(right_in_any, in_graph)} %)")
        print(f"  {'pid':6} {'relation':32} {'questions':>9} {'Hits@1':>6} {'in graph':>8} {'right there':>11} "
              f"{'any doc':>7}")
        for pid, c in sorted(per.items(), key=lambda kv: -kv[1]["n"])[: args.top]:
            print(f"  {pid:6} {rel_info.get(pid, pid)[:32]:32} {c['n']:9d} {pct(c['right'], c['n']):>6} "
                  f"{c['in']:8d} {pct(c['right_in'], c['in']):>11} {pct(c['right_in_any'], c['in']):>7}")


#: the file in a ``--store`` folder that says which documents and options its graph was built for
BUILD_FILE = "redocred-build.json"


def _stored_report(store, key: dict) -> dict | None:
    """The build report kept in ``store`` when its graph was built for ``key``, else None."""
    if store is None:
        return None
    file = Path(store) / BUILD_FILE
    try:
        kept = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return kept["report"] if kept.get("key") == key else None


def build_graph(kg, docs, first: int, args, parse_date, normalise) -> dict:
    """Build the graph of ``docs`` into ``kg`` with the kgqa pipeline; the tallies of (a) and (b)."""
    from nlp.pipeline import doc_to_extraction, load_pipeline

    started = time.monotonic()
    nlp = load_pipeline(model=args.model, fast=args.fast)
    if args.replace and "kgqa_document_relations" in nlp.pipe_names:
        nlp.get_pipe("kgqa_document_relations").replace = True  # replace_sentence_relations=True
    schema = nlp.get_pipe("kgqa_relation_extractor").schema
    pid_of = {r.name: r.pid for r in schema}
    if "kgqa_document_relations" in nlp.pipe_names:
        pid_of.update({name: pid for pid, name in nlp.get_pipe("kgqa_document_relations").names().items()})
    rel_info = json.loads((Path(args.data) / "redocred" / "rel_info.json").read_text(encoding="utf-8"))
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
    pairs = ((text, str(i)) for i, (text, _) in enumerate(texts))
    graph_facts = {}
    for doc, doc_id in nlp.pipe(pairs, as_tuples=True, batch_size=args.batch_size):
        i = int(doc_id)
        gold = docs[i]
        ext = doc_to_extraction(doc, f"redocred-{first + i}", nlp=nlp)
        kg.add_document(f"redocred-{first + i}", ext.facts, entities=ext.entities, relations=ext.relations)
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
        graph_facts[i] = found_gold
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
    return {"tp_pred": tp_pred, "n_pred": n_pred, "n_pred_other": n_pred_other, "gold_found": gold_found,
            "n_gold": n_gold, "gold_ceiling": gold_ceiling, "per_rel": per_rel, "by_conf": by_conf, "b3_p": b3_p,
            "b3_r": b3_r, "b3_docs": b3_docs, "detected": detected, "total_mentions": total_mentions,
            "seconds": seconds, "stats": stats, "load_seconds": load_seconds, "words": words, "pid_of": pid_of,
            "graph_facts": {i: sorted(found) for i, found in graph_facts.items()}}


def ask_templates(kg, docs, graph_facts, parse_date, normalise, *, misses=None, first=0, in_graph_only=False):
    """Ask one template question per gold triple of the TEMPLATES relations; returns the tallies.

    A question asked again (a head with several gold tails) reuses its first answer. ``in_graph_only``
    asks only the questions whose gold triple is in the graph. Besides "right" (the top answer is a gold
    tail of this document's head and relation) it tallies "right by any document": a gold tail of the
    same question in any measured document (the graph merges same-named entities across documents, so
    "What does Norway contain?" has every document's answers).

    ``misses``: a JSON lines file that gets one line per question whose gold fact is in the graph but
    whose top answer is wrong (the question, the gold names, the answers, the SPARQL and the evidence).
    """
    from reasoning import ask

    def gold_of(doc, tails, h, r):
        names, dates = set(), set()
        for t in tails[(h, r)]:
            for m in doc["vertexSet"][t]:
                names.add(normalise(m["name"]))
                d = parse_date(m["name"])
                if d is not None:
                    dates.add(d[0])
        return names, dates

    def is_right(top, names, dates):
        return top is not None and (normalise(top) in names or any(
            top.startswith(d) or d.startswith(top) for d in dates if len(top) >= 4))

    rows, any_gold = [], defaultdict(lambda: (set(), set()))
    for i, doc in enumerate(docs):
        tails = defaultdict(set)
        for lab in doc["labels"]:
            tails[(lab["h"], lab["r"])].add(lab["t"])
        for lab in doc["labels"]:
            template = TEMPLATES.get(lab["r"])
            if template is None:
                continue
            question = template.format(doc["vertexSet"][lab["h"]][0]["name"])
            names, dates = gold_of(doc, tails, lab["h"], lab["r"])
            any_gold[question][0].update(names)
            any_gold[question][1].update(dates)
            known = (lab["h"], lab["r"], lab["t"]) in graph_facts.get(i, set())
            rows.append((i, lab["r"], question, names, dates, known))

    per = defaultdict(Counter)
    n = right = in_graph = right_in_graph = right_in_any = 0
    out = open(misses, "w", encoding="utf-8") if misses else None
    asked: dict = {}
    try:
        for i, r, question, ok_names, ok_dates, known in rows:
            if in_graph_only and not known:
                continue
            if question not in asked:
                try:
                    asked[question] = ask(kg, question, k=1)
                except Exception as err:  # a question the planner rejects counts as unanswered
                    asked[question] = None
                    print(f"  warning: {question!r}: {err}")
            result = asked[question]
            top = result.top if result is not None else None
            good = is_right(top, ok_names, ok_dates)
            good_any = good or is_right(top, *any_gold[question])
            n += 1
            right += good
            in_graph += known
            right_in_graph += good and known
            right_in_any += good_any and known
            c = per[r]
            c["n"] += 1
            c["right"] += good
            c["in"] += known
            c["right_in"] += good and known
            c["right_in_any"] += good_any and known
            if out is not None and known and not good:
                answers = result.answers if result is not None else []
                out.write(json.dumps({
                    "doc": first + i, "relation": r, "question": question, "gold": sorted(ok_names),
                    "answer": top, "right_by_another_document": good_any,
                    "method": getattr(result, "method", None), "sparql": getattr(result, "sparql", None),
                    "evidence": [step.text() for step in answers[0].evidence] if answers else [],
                    "warnings": list(getattr(result, "warnings", None) or [])}) + "\n")
    finally:
        if out is not None:
            out.close()
    return n, right, in_graph, right_in_graph, right_in_any, per


if __name__ == "__main__":
    main()
