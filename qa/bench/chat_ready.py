"""Child process of the chat-ready benchmark: open the chat, type a question at once, report its answer.

``python -m qa.bench.chat_ready --corpus DIR --index DIR --export-dir DIR --question Q``
builds the app with ``qa.tui.app.create_app`` (what ``qa chat`` runs, with the real service),
runs it headless, puts ``Q`` in the question field and presses Enter as soon as the first frame is up (while the model
and index load in the app's worker), and prints ``ANSWERED <time.monotonic()>`` when the
chat receives the answer (``AnswerReady``), then ``MODULES <json>``: which of torch,
transformers and sentence_transformers the process had imported by then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

HEAVY = ("torch", "transformers", "sentence_transformers")


def heavy_modules() -> list[str]:
    return sorted(m for m in HEAVY if m in sys.modules)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.bench.chat_ready")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--index", required=True)
    parser.add_argument("--export-dir", required=True)
    parser.add_argument("--question", required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)

    from qa.config import load_settings
    from qa.tui.app import create_app
    from qa.tui.messages import AnswerFailed, AnswerReady, ServiceFailed
    from qa.tui.widgets import QuestionInput

    settings = load_settings(corpus=Path(args.corpus), index_dir=Path(args.index))
    app = create_app(settings, export_dir=Path(args.export_dir))

    def hook(message) -> None:
        if isinstance(message, AnswerReady):
            sys.stdout.write(f"ANSWERED {time.monotonic():.6f}\nMODULES {json.dumps(heavy_modules())}\n")
            sys.stdout.flush()
            os._exit(0)
        if isinstance(message, (AnswerFailed, ServiceFailed)):
            sys.stderr.write(f"the chat failed: {message}\n")
            sys.stderr.flush()
            os._exit(1)

    async def run() -> None:
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            # The question is pasted in one go (typing it key by key through the test pilot costs
            # ~50 ms a key, which would measure the pilot), then sent with Enter.
            app.screen.query_one(QuestionInput).value = args.question
            await pilot.press("enter")
            await pilot.pause(args.timeout)

    asyncio.run(run())
    print("no answer in time", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
