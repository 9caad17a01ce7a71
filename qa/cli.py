"""Command line: ``qa [chat|index|ask|eval|bench]``. A bare ``qa`` opens the chat.

Each subcommand module exposes ``add_parser(subparsers)``; the parser it adds sets
``handler=fn`` with ``fn(args) -> int``. Modules keep heavy imports (torch, faiss,
textual) inside their handlers so ``qa --help`` and start-up stay fast.
Expected failures are ``QAError``: one line on stderr, non-zero exit, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from qa.config import Settings, load_settings
from qa.errors import QAError
from qa.textsafe import one_line

# Subcommand modules, in the order `qa --help` lists them.
COMMAND_MODULES = ("qa.tui.command", "qa.commands", "qa.eval.command", "qa.bench.command")


def add_common(parser: argparse.ArgumentParser) -> None:
    """--corpus/--index, shared by every command that touches an index."""
    parser.add_argument("--corpus", metavar="DIR", help="corpus folder (default: seeds/, or $QA_CORPUS)")
    parser.add_argument("--index", metavar="DIR", dest="index_dir", help="index folder (default: index/)")
    parser.add_argument(
        "--store", metavar="URI",
        help="where the index lives: the index folder (default), milvus://HOST:PORT[/COLLECTION], "
        "or milvus-lite:PATH.db (or $QA_STORE__URI)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = load_settings(corpus=getattr(args, "corpus", None), index_dir=getattr(args, "index_dir", None))
    uri = getattr(args, "store", None)
    if uri is not None:
        from qa.config import with_updates
        from qa.index.store import parse_store_uri

        parse_store_uri(uri, settings.index_dir)  # a bad URI fails here, in one line
        settings = with_updates(settings, store={"uri": uri})
    return settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Extractive, cited answers from a folder of articles. Run without a command to chat."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command whose module is not part of this build
            if not (exc.name and name.startswith(exc.name)):
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    words = list(sys.argv[1:] if argv is None else argv)
    if not words or (words[0].startswith("-") and words[0] not in ("-h", "--help")):
        words = ["chat", *words]  # a bare `qa [--corpus DIR] [--index DIR]` opens the chat
    parser = build_parser()
    args = parser.parse_args(words)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except QAError as exc:
        print(f"qa: {exc.title.lower()}: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
