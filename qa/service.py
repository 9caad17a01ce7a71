"""The one object the CLI, the TUI and the eval talk to.

It owns the settings, the embedder (loaded lazily, once) and the loaded index, and
reloads the index when another process has published a new build.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from qa.models import BuildReport, CorpusInfo, Response

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): stage is a short label such as 'files', 'chunks' or 'embedding'."""


class Service(Protocol):
    """What front ends may call. Every method raises only ``qa.errors.QAError`` for expected failures."""

    def prepare(self, progress: Progress | None = None) -> BuildReport:
        """Load the model and build or refresh the index (no-op when up to date). Slow: call from a worker."""
        ...

    def rebuild(self, progress: Progress | None = None) -> BuildReport:
        """Re-embed everything from scratch."""
        ...

    def info(self) -> CorpusInfo:
        """Corpus folder, counts and model of the loaded index (after ``prepare``)."""
        ...

    def ask(self, question: str, history: Sequence[str] = ()) -> Response:
        """Answer ``question``; ``history`` holds the earlier questions of the conversation, oldest first."""
        ...

    def read_source(self, source: str) -> str:
        """The decoded text of a corpus file, exactly as offsets in citations index it."""
        ...
