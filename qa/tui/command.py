"""``qa chat [--corpus DIR] [--index DIR]``: open the chat. Textual is imported only when it runs."""

from __future__ import annotations

import argparse
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


def run(args: argparse.Namespace) -> int:
    from qa.tui.app import create_app

    app = create_app(settings_from_args(args))
    app.run()
    return app.return_code or 0
