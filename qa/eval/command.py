"""``qa eval QUESTIONS``: run a question set (JSON Lines or SQuAD JSON) and report the metrics.

Draws a progress bar on a terminal, then a metrics table and the worst-answered
questions; writes the JSON/Markdown reports; exits 1 naming each ``--min-*`` floor
that is not met. The work itself is ``qa.eval.evaluate``; heavy imports stay in :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from qa.cli import add_common

if TYPE_CHECKING:
    from types import TracebackType

    from rich.console import Console
    from rich.progress import Progress, TaskID

    from qa.config import Settings
    from qa.eval.evaluate import EvalReport, Metrics, QuestionResult
    from qa.service import Service

FLOORS = {
    "min_f1": "f1",
    "min_exact_match": "exact_match",
    "min_recall_at_5": "recall@5",
    "min_citation_accuracy": "citation_accuracy",
    "min_answer_recall": "answer_recall",
    "min_abstention_recall": "abstention_recall",
    "min_abstention_auc": "abstention_auc",
}
"""Floor option (argparse dest) -> metric name in the report."""

TABLE_ROWS = (
    "n",
    "n_answerable",
    "exact_match",
    "f1",
    "has_answer_f1",
    "answer_recall",
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "citation_accuracy",
    "abstention_precision",
    "abstention_recall",
    "abstention_auc",
    "n_declined",
    "n_tentative",
    "answered_precision",
    "tentative_precision",
    "declined_precision",
    "answer_words",
    "gold_words",
    "latency_ms_p50",
    "latency_ms_p95",
)
WORST_SHOWN = 10


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "eval",
        help="score the answers on a question set (JSON Lines or SQuAD JSON)",
        description="Ask every question of QUESTIONS and report EM/F1, retrieval recall, citation accuracy, "
        "abstention and latency. SQuAD v1.1/v2.0 files are turned into a corpus under .qa-cache/ first.",
    )
    parser.add_argument("questions", metavar="QUESTIONS", help="question set: .jsonl (see eval/README.md) or SQuAD .json")
    add_common(parser)
    parser.add_argument("--json-out", metavar="FILE", help="write the full report (metrics and every question) as JSON")
    parser.add_argument("--markdown-out", metavar="FILE", help="write a Markdown report")
    for dest, metric in FLOORS.items():
        flag = "--" + dest.replace("_", "-")
        parser.add_argument(flag, dest=dest, metavar="X", type=_fraction, help=f"exit 1 when {metric} < X")
    parser.add_argument("--limit", metavar="N", type=_positive, help="only the first N questions")
    parser.set_defaults(handler=run)


def make_service(settings: Settings) -> Service:
    """The real service (replaced by a fake in tests)."""
    from qa.service import QAService

    return QAService(settings)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from qa.config import with_updates
    from qa.errors import EvalError
    from qa.eval.evaluate import RANK_CUTOFF, check_floors, corpus_settings, load_questions, missing_sources, run_eval

    question_file = load_questions(Path(args.questions))
    if question_file.format == "squad" and args.corpus:
        print("qa eval: --corpus is ignored for SQuAD input (the corpus is built from the file)", file=sys.stderr)
    settings = corpus_settings(question_file, args.corpus, args.index_dir)
    if args.store is not None:
        from qa.index.store import parse_store_uri

        parse_store_uri(args.store, settings.index_dir)
        settings = with_updates(settings, store={"uri": args.store})
    if question_file.format != "squad":
        missing = missing_sources(question_file.questions, settings.corpus)
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise EvalError(f"{question_file.path}: sources not found in corpus {settings.corpus}: {shown}")
    settings = with_updates(settings, retrieval={"top_k": max(RANK_CUTOFF, settings.retrieval.top_k)})
    questions = question_file.questions[: args.limit] if args.limit else question_file.questions

    service = make_service(settings)
    with _ProgressView(Console(stderr=True)) as view:
        service.prepare(view.stage)
        report = run_eval(service, questions, progress=view.questions)
    info = service.info()
    report = report.model_copy(
        update={
            "question_set": question_file.path,
            "format": question_file.format,
            "model": info.model,
            "corpus": info,
            "settings": settings.model_dump(mode="json"),
            "limit": args.limit,
        }
    )

    show_report(Console(), report)
    if args.json_out:
        _write(Path(args.json_out), report.to_json() + "\n")
    if args.markdown_out:
        _write(Path(args.markdown_out), markdown_report(report))
    failed = check_floors(report.metrics, {FLOORS[d]: getattr(args, d) for d in FLOORS if getattr(args, d) is not None})
    if failed:
        print(f"qa eval: floors not met: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _write(path: Path, text: str) -> None:
    """Write atomically, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


# --- terminal output ----------------------------------------------------------------


class _ProgressView:
    """A rich progress bar per stage on an interactive terminal; silent when piped or on TERM=dumb."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress: Progress | None = None
        if console.is_interactive:
            self._progress = Progress(
                TextColumn("{task.description:>12}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _ProgressView:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def stage(self, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        from rich.markup import escape

        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(escape(stage), total=total)
        self._progress.update(self._tasks[stage], completed=done, total=total)

    def questions(self, done: int, total: int) -> None:
        self.stage("questions", done, total)


def _fmt(name: str, value: float | int | None) -> str:
    if value is None:
        return "—"
    if name in ("n", "n_answerable", "n_declined", "n_tentative"):
        return str(value)
    if name.startswith("latency"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def _metric_columns(report: EvalReport) -> list[tuple[str, Metrics]]:
    return [("all", report.metrics), *report.by_type.items()]


def show_report(console: Console, report: EvalReport) -> None:
    """Metrics table (overall and by type) and the worst-answered questions; file text shown verbatim."""
    from rich.table import Table
    from rich.text import Text

    from qa.eval.evaluate import worst
    from qa.textsafe import one_line

    table = Table(title="qa eval", title_justify="left")
    table.add_column("metric")
    columns = _metric_columns(report)
    for name, _ in columns:
        table.add_column(Text(one_line(name)), justify="right")
    values = [m.model_dump() for _, m in columns]
    for row in TABLE_ROWS:
        table.add_row(Text(row), *(Text(_fmt(row, v[row])) for v in values))
    console.print(table)
    console.print(Text(one_line(_summary_line(report))))

    bad = worst(report.questions, WORST_SHOWN)
    if not bad:
        return
    worst_table = Table(title="worst-answered questions", title_justify="left")
    for header in ("id", "question", "expected", "got", "source", "f1"):
        worst_table.add_column(header, overflow="fold")
    for r in bad:
        worst_table.add_row(
            Text(one_line(r.id)),
            Text(one_line(r.question)),
            Text(one_line(" | ".join(r.expected) or "(no answer)")),
            Text(_got(r)),
            Text(one_line(f"{r.source}:{r.line}") if r.source else "—"),
            Text(f"{r.f1:.2f}"),
        )
    console.print(worst_table)


def _got(r: QuestionResult) -> str:
    from qa.textsafe import one_line

    if not r.answered:
        return "(declined)"
    return one_line(r.got) + (" (tentative)" if r.status == "tentative" else "")


def _summary_line(report: EvalReport) -> str:
    corpus = report.corpus
    where = f"corpus {corpus.corpus} ({corpus.files} files), model {report.model}" if corpus else ""
    return f"{report.metrics.n} questions from {report.question_set} in {report.seconds:.1f} s; {where}"


# --- Markdown -----------------------------------------------------------------------

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|"})


def _md(text: str) -> str:
    from qa.textsafe import one_line

    return one_line(text).translate(_MD_SPECIAL)


def markdown_report(report: EvalReport) -> str:
    """The report as Markdown: run context, metrics by type, then every question (worst first)."""
    from qa.eval.evaluate import worst

    columns = _metric_columns(report)
    lines = [
        "# qa eval report",
        "",
        f"- question set: `{_md(report.question_set)}` ({report.format})",
        f"- model: `{_md(report.model or '?')}`",
        f"- corpus: `{_md(report.corpus.corpus if report.corpus else '?')}`",
        f"- created: {report.created_at}; {report.metrics.n} questions in {report.seconds:.1f} s",
        "",
        "## Metrics",
        "",
        "| metric | " + " | ".join(_md(name) for name, _ in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    values = [m.model_dump() for _, m in columns]
    for row in TABLE_ROWS:
        lines.append(f"| {row} | " + " | ".join(_fmt(row, v[row]) for v in values) + " |")
    if report.curve:
        lines += ["", "## The decision threshold", "",
                  "Answering only at or above a confidence threshold: the share of answerable questions declined "
                  "against the share of unanswerable ones answered (F1 — where an answer below the lowest one "
                  "given is not known).", "",
                  "| threshold | answerable declined | unanswerable answered | f1 |", "|---|---|---|---|"]
        lines += [f"| {c.threshold:.2f} | {_fmt('x', c.answerable_declined)} | {_fmt('x', c.unanswerable_answered)} "
                  f"| {_fmt('x', c.f1)} |" for c in report.curve]
    lines += ["", "## Questions not answered exactly (worst first)", ""]
    bad = worst(report.questions, len(report.questions))
    if not bad:
        lines.append("None.")
    else:
        lines += ["| id | type | question | expected | got | source | f1 | rank |", "|---|---|---|---|---|---|---|---|"]
        lines += [_md_row(r) for r in bad]
    return "\n".join(lines) + "\n"


def _md_row(r: QuestionResult) -> str:
    got = (_md(r.got) + (" *(tentative)*" if r.status == "tentative" else "")) if r.answered else "*(declined)*"
    source = _md(f"{r.source}:{r.line}") if r.source else "—"
    rank = str(r.first_hit_rank) if r.first_hit_rank else "—"
    expected = _md(" | ".join(r.expected)) or "*(no answer)*"
    return f"| {_md(r.id)} | {_md(r.type or '')} | {_md(r.question)} | {expected} | {got} | {source} | {r.f1:.2f} | {rank} |"
