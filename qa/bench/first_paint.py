"""Child process of the first-paint benchmark: open the chat app and report its first frame.

``python -m qa.bench.first_paint --corpus DIR --index DIR --export-dir DIR`` prints
``READY <time.monotonic()>`` when Textual posts ``events.Ready`` (after the first frame),
then exits at once, without waiting for the model that the app is loading in a worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.bench.first_paint")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--index", required=True)
    parser.add_argument("--export-dir", required=True)
    args = parser.parse_args(argv)

    from textual import events

    from qa.config import load_settings
    from qa.tui.app import create_app

    settings = load_settings(corpus=Path(args.corpus), index_dir=Path(args.index))
    app = create_app(settings, export_dir=Path(args.export_dir))

    def hook(message) -> None:
        if isinstance(message, events.Ready):
            sys.stdout.write(f"READY {time.monotonic():.6f}\n")
            sys.stdout.flush()
            os._exit(0)  # the model is still loading in a worker thread; do not wait for it

    async def run() -> None:
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            await pilot.pause(30)

    asyncio.run(run())
    print("the app exited without a first frame", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
