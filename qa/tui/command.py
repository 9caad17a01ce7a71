"""``qa chat [--corpus DIR] [--index DIR]``: open the chat. Textual is imported only when it runs."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from qa.cli import add_common, settings_from_args


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "chat",
        help="open the chat (what a bare `qa` does)",
        description="Ask questions about the corpus in a terminal chat; answers cite their sources.",
    )
    add_common(parser)
    parser.set_defaults(handler=run)


def terminal_problem() -> str | None:
    """Why the chat cannot run in this process's terminal, or None. Textual reads keys from stdin and
    draws on stderr; without a terminal on both it would write screens into a file and wait forever."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return "the chat needs an interactive terminal (stdin and stderr); use `qa ask \"QUESTION\"` in scripts"
    if os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return f"TERM={os.environ['TERM']} cannot show the chat; run it in a full terminal, or use `qa ask \"QUESTION\"`"
    return None


def run(args: argparse.Namespace) -> int:
    from qa.errors import TerminalError

    problem = terminal_problem()
    if problem:
        raise TerminalError(problem)
    from qa.tui.app import create_app

    app = create_app(settings_from_args(args))
    app.run()
    return app.return_code or 0
