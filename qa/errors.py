"""One error hierarchy. Every error carries a title and a one-line message a user can act on.

The CLI prints ``str(error)`` on one line and exits non-zero; the TUI shows it in a notification.
Nothing else in the package catches broad exceptions to turn them into answers.
"""

from __future__ import annotations


class QAError(Exception):
    title = "Error"
    exit_code = 1

    def __init__(self, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class ConfigError(QAError):
    title = "Configuration error"
    exit_code = 2


class CorpusError(QAError):
    title = "Corpus error"


class ModelError(QAError):
    title = "Model error"


class IndexCorruptError(QAError):
    """The index on disk is damaged, incomplete, or from another format/model; rebuild it."""

    title = "Index error"


class IndexLockedError(QAError):
    title = "Index busy"


class StoreUnavailableError(QAError):
    """The index store (a Milvus server) cannot be reached; the message names its URI."""

    title = "Store unavailable"


class TerminalError(QAError):
    """The chat cannot run here: no interactive terminal to draw on."""

    title = "Terminal error"
    exit_code = 2


class QuestionError(QAError):
    title = "Question error"
    exit_code = 2


class EvalError(QAError):
    title = "Eval error"
    exit_code = 2
