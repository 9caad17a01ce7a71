"""`qa index`, `qa ask` and `qa train-reader`. Corpus text is printed through ``textsafe`` and never as markup."""

from __future__ import annotations

import argparse
import json
import re
import sys
from contextlib import contextmanager

from qa.models import TENTATIVE
from qa.textsafe import one_line, visible


def add_parser(sub: argparse._SubParsersAction) -> None:
    from qa.cli import add_common

    p = sub.add_parser("index", help="build or refresh the index of the corpus")
    add_common(p)
    p.add_argument("--rebuild", action="store_true", help="re-embed everything, even unchanged files")
    p.set_defaults(handler=run_index)

    p = sub.add_parser("ask", help="answer one question and exit")
    p.add_argument("question", help="the question (quote it)")
    p.add_argument("--history", action="append", default=[], metavar="PREVIOUS QUESTION",
                   help="an earlier question of the conversation, oldest first (repeatable)")
    p.add_argument("--json", action="store_true", help="print the Response as JSON")
    p.add_argument("--top-k", type=int, metavar="N", help="passages to return (default 5)")
    add_common(p)
    p.set_defaults(handler=run_ask)

    from qa.answering import train

    p = sub.add_parser("train-reader", help="fine-tune the extractive reader on SQuAD-format questions",
                       description=train.__doc__.split("\n")[0])
    train.add_arguments(p)
    p.set_defaults(handler=run_train_reader)


def _service(args: argparse.Namespace):
    from qa.cli import settings_from_args
    from qa.config import with_updates
    from qa.service import QAService

    settings = settings_from_args(args)
    top_k = getattr(args, "top_k", None)
    if top_k is not None:
        settings = with_updates(settings, retrieval={"top_k": top_k})
    return QAService(settings)


@contextmanager
def progress_bar():
    """A rich progress bar on stderr when stderr is an interactive terminal; nothing when it is piped,
    redirected or a dumb terminal (TERM=dumb). Yields a progress(stage, done, total), or None."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_interactive:  # TERM=dumb/unknown: a bar would only print escape codes
        yield None
        return
    with Progress(
        TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True, redirect_stdout=False,  # stdout carries only the result
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(escape(stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def run_index(args: argparse.Namespace) -> int:
    service = _service(args)

    def waiting() -> None:
        print(f"qa: waiting for another qa process building {service.store.uri} ...", file=sys.stderr)

    with progress_bar() as progress:
        report = service.refresh(progress, force=args.rebuild, on_wait=waiting)
    for skip in report.skipped:
        print(f"qa: skipped {one_line(skip.source)}: {skip.reason}", file=sys.stderr)
    if not report.reason:
        what = "index is up to date: nothing embedded"
    else:
        what = f"{report.reason}: embedded {len(report.embedded_files)} file(s), {report.texts_embedded} texts"
        if report.reused_files:
            what += f", reused {report.reused_files} unchanged file(s)"
        if report.removed_files:
            what += f", dropped {len(report.removed_files)} removed file(s)"
    print(
        f"{report.files_indexed} files indexed, {len(report.skipped)} skipped, {report.chunks} chunks, "
        f"{report.sentences} sentences in {service.store.uri} ({report.seconds:.2f} s); {what}"
    )
    return 0


def run_ask(args: argparse.Namespace) -> int:
    service = _service(args)
    service.check_question(args.question)  # a bad question fails before the model loads
    with progress_bar() as progress:
        service.prepare(progress)
    response = service.ask(args.question, args.history)
    if args.json:
        print(terminal_safe_json(response.model_dump(mode="json")))
    else:
        print(format_response(response))
    return 0


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_safe_json(data) -> str:
    """JSON whose text is verbatim once parsed, but with no byte a terminal acts on: json
    escapes C0 controls itself; DEL, C1 controls (e.g. U+009B, a one-character CSI) and
    bidi overrides are written as \\uXXXX escapes too (they only occur inside strings)."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def format_response(r) -> str:
    """Plain-text rendering of a Response for the terminal (every corpus string escaped)."""
    out: list[str] = []
    for notice in r.notices:
        out.append(f"note: {visible(notice)}")
    if r.status == "declined" or r.answer is None:
        out.append(f"{one_line(r.message or 'No answer in the corpus')}.")
        if r.passages:
            out.append("Closest passages:")
            for p in r.passages[:3]:
                out.append(f"  {one_line(p.source)}:{p.line_start}-{p.line_end} ({p.score:.2f})  {_clip(p.text)}")
        return "\n".join(out)
    a = r.answer
    if r.status == "tentative":
        out.append(f"{TENTATIVE}.")
    label = "Possible answer" if r.status == "tentative" else "Answer"
    out.append(f"{label}: {one_line(a.text)}   (score {a.score:.2f})")
    if a.text.strip() != a.sentence.strip():
        out.append(f"  \u201c{one_line(a.sentence)}\u201d")
    out.append(f"  {one_line(a.source)}, line {a.line}, chars {a.start}-{a.end}")
    if r.conflicts:
        out.append("Sources disagree:")
        for c in r.conflicts:
            out.append(f"  {one_line(c.value)}: {', '.join(one_line(s) for s in c.sources)}")
            for cite in c.citations:
                out.append(f"    {one_line(cite.source)}:{cite.line_start}  {_clip(cite.text)}")
    else:
        out.append(f"{one_line(r.message.removeprefix(TENTATIVE + ' · '))}:")
        for c in r.citations:
            out.append(f"  {one_line(c.source)}:{c.line_start}-{c.line_end}  {_clip(c.text)}")
    return "\n".join(out)


def _clip(text: str, width: int = 110) -> str:
    flat = one_line(text)
    return flat if len(flat) <= width else flat[: width - 1] + "\u2026"


def run_train_reader(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qa.answering.train import config_from_args, train
    from qa.runtime.packaged import default_model_path

    cfg = config_from_args(args, lambda: str(default_model_path()))
    if not Path(cfg.train).is_file():
        raise SystemExit(f"qa: training file not found: {cfg.train}")
    if cfg.dev and not Path(cfg.dev).is_file():
        raise SystemExit(f"qa: dev file not found: {cfg.dev}")
    with progress_bar() as progress:
        factory = (lambda total: lambda done, n: progress("training", done, n)) if progress else None
        metrics = train(cfg, resume=args.resume, log=lambda m: print(f"qa: {m}", file=sys.stderr, flush=True),
                        progress_factory=factory)
    print(json.dumps(metrics))
    return 0
