"""`kgqa ask`: a question (or a file of questions) in, ranked answers with their evidence out."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

STORE_HELP = "Store folder or SPARQL endpoint URL (default: $KGQA_STORE or ./kgqa-store)."


def ask(
    question: Optional[str] = typer.Argument(None, help="The question; [square brackets] may mark the topic entity."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="A file with one question per line."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one object per line with --file)."),
    method: str = typer.Option("auto", "--method", "-m", help="auto, sparql, rules or gnn."),
    k: int = typer.Option(10, "--k", "-k", min=1, help="At most this many answers."),
):
    """Answer a question over the graph, with the evidence path and source sentences.

    Example: kgqa ask "who directed [Casablanca]?" --store my-store
    """
    from kg import KnowledgeGraph
    from kg.errors import KGQAError
    from reasoning import ask as ask_question
    from ui.cli import default_store, fail

    if (question is None) == (file is None):
        fail(KGQAError("give one question or --file QUESTIONS.txt", code="E-USAGE"))
    try:
        kg = KnowledgeGraph.open(store or default_store(), create=False)
    except KGQAError as err:
        fail(err)
    with kg:
        if file is None:
            try:
                result = ask_question(kg, question, method=method, k=k)
            except KGQAError as err:
                fail(err)
            typer.echo(json.dumps(result.to_json(), ensure_ascii=False) if as_json else format_answer(result))
            return
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            fail(KGQAError(f"cannot read {file}: {err}; give a UTF-8 text file with one question per line",
                           code="E-FILE"))
        for lineno, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                out = ask_question(kg, text, method=method, k=k)
                payload = out.to_json()
            except Exception as err:  # one bad line must not stop the rest of the file
                code = getattr(err, "code", "E-INTERNAL")
                payload = {"question": text, "line": lineno, "error": {"code": code, "message": str(err)}}
                out = None
            if as_json:
                typer.echo(json.dumps(payload, ensure_ascii=False))
            else:
                typer.echo(format_answer(out) if out is not None else f"{text}\n  error: {payload['error']['message']}")
                typer.echo("")


def format_answer(result) -> str:
    """Plain text: the answers, each with its evidence path and source sentences, then warnings."""
    lines = [f"Q: {result.question}"]
    if not result.answers:
        lines.append("  The graph does not know.")
    for i, answer in enumerate(result.answers, 1):
        tag = " (predicted)" if answer.predicted else ""
        lines.append(f"{i}. {answer.label}{tag}   score {answer.score:.2f}")
        for step in answer.evidence:
            note = f"   [rule: {step.rule}]" if step.rule else ""
            lines.append(f"     {step.text()}{note}")
            if step.source:
                lines.append(f"       \u201c{step.source['sentence']}\u201d ({step.source['document']})")
    for warning in result.warnings:
        lines.append(f"  note: {warning}")
    lines.append(f"  method: {result.method}")
    return "\n".join(lines)


def train_questions(
    file: Path = typer.Argument(..., help="Example questions: one 'question<TAB>answer|answer' a line."),
    store: Optional[str] = typer.Option(None, "--store", help="Store folder."),
    append: bool = typer.Option(False, "--append", help="Add to the examples already learned for this store."),
):
    """Learn your domain's wording from example questions with their answers (no path labels needed).

    Each example's wording becomes a paraphrase of the relation path that reproduces its answers; the
    examples are saved beside the store (kgqa-qa-examples.json) and used by `kgqa ask`.
    Example: kgqa train questions examples.tsv --store my-store
    """
    from kg import KnowledgeGraph
    from kg.errors import KGQAError
    from reasoning.paraphrases import ExampleBank
    from reasoning.planner import learn_examples
    from ui.cli import default_store, fail

    pairs, bad = [], 0
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        fail(KGQAError(f"cannot read {file}: {err}; give a UTF-8 file of 'question<TAB>answers' lines", code="E-FILE"))
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            bad += 1
            continue
        question, answers = line.split("\t", 1)
        pairs.append((question.strip(), [a.strip() for a in answers.split("|") if a.strip()]))
    try:
        kg = KnowledgeGraph.open(store or default_store(), create=False)
    except KGQAError as err:
        fail(err)
    with kg:
        if not kg.store.kind.startswith("oxigraph"):
            fail(KGQAError("learned examples are kept beside a store folder; give --store FOLDER", code="E-USAGE"))
        target = Path(str(kg.store.location)) / ExampleBank.FILE_NAME
        bank = ExampleBank.load(target) if append and target.is_file() else ExampleBank()
        bank, learned, skipped = learn_examples(kg, pairs, bank=bank)
        bank.save(target)
        from reasoning.ranking import refit_after_training  # `ask` weighs the new wordings' votes with this

        refit_after_training(kg, log=lambda msg: typer.echo(msg, err=True))
    typer.echo(f"learned {learned} wordings ({skipped} examples no relation path reproduces, {bad} lines "
               f"without a tab); {len(bank)} in {target}")


def register(groups) -> None:
    groups["app"].command("ask")(ask)
    groups["train"].command("questions")(train_questions)
