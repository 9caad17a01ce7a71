"""The one object the CLI, the TUI and the eval talk to.

It owns the settings, the embedder (loaded lazily, once) and the loaded index, and
reloads the index when another process has published a new build.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from qa.errors import CorpusError, IndexCorruptError, QuestionError
from qa.models import BuildReport, CorpusInfo, Response

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.runtime.embedder import Embedder

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


class QAService:
    """The real service: settings + lazily loaded embedder + the live index.

    Construction is cheap (nothing heavy is imported); ``prepare`` does the slow work.
    """

    def __init__(self, settings: "Settings", embedder: "Embedder | None" = None, reader=None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._index = None
        self._store = None
        self._token: str | None = None
        self._lock = threading.RLock()
        self._answers: OrderedDict[tuple[str, tuple[str, ...]], tuple[Response, str | None]] = OrderedDict()
        """(question, history) -> (its response, what its pronoun was read as: the next follow-up's fallback)."""
        self._neural = reader  # a SpanReader; None loads the configured neural reader on first use
        self._calibration = None

    # -- set-up ------------------------------------------------------------------------

    @property
    def neural_reader(self):
        """The learned span reader, loaded on first use."""
        if self._neural is None:
            from qa.answering.readers.neural import NeuralReader

            a = self.settings.answer
            self._neural = NeuralReader(a.reader_weights, quantize=a.reader_quantize)
        return self._neural

    @property
    def calibration(self):
        """The neural reader's abstention calibration (stored beside its weights)."""
        if self._calibration is None:
            from qa.answering.abstain import Calibration, calibration_path

            weights = getattr(self.neural_reader, "weights", None)
            self._calibration = Calibration.load(calibration_path(weights)) if weights else Calibration.default()
        return self._calibration

    @property
    def embedder(self) -> "Embedder":
        if self._embedder is None:
            from qa.runtime.embedder import make_embedder

            self._embedder = make_embedder(self.settings.embedding)
        return self._embedder

    def prepare(self, progress: Progress | None = None) -> BuildReport:
        with self._lock:
            report = self._refresh(progress, force=False)
            self._load()
            warm = getattr(self.embedder, "warm_up", None)
            if warm is not None:
                warm()
            self.neural_reader.warm_up()
            return report

    def rebuild(self, progress: Progress | None = None) -> BuildReport:
        with self._lock:
            report = self._refresh(progress, force=True)
            self._load()
            return report

    def refresh(self, progress: Progress | None = None, force: bool = False, on_wait=None) -> BuildReport:
        """Build or refresh the index only (``qa index``)."""
        with self._lock:
            return self._refresh(progress, force, on_wait)

    @property
    def store(self):
        """Where the index lives (``settings.store.uri``): the index folder or a Milvus collection."""
        if self._store is None:
            from qa.index.store import open_store

            self._store = open_store(self.settings)
        return self._store

    def _refresh(self, progress: Progress | None, force: bool, on_wait=None) -> BuildReport:
        report = self.store.refresh(self.settings, lambda: self.embedder, progress, force=force, on_wait=on_wait)
        self._answers.clear()
        return report

    def _load(self) -> None:
        token = self.store.token()
        if self._index is not None and token == self._token:
            return
        loaded = self.store.open()
        expected = self.settings.embedding.model
        if loaded.manifest.model != expected:
            raise IndexCorruptError(
                f"index in {self.store.uri} was built with model {loaded.manifest.model!r}, "
                f"settings say {expected!r}; run `qa index`"
            )
        self._index, self._token = loaded, loaded.token
        self._answers.clear()

    def _current(self):
        """The live index, reloaded when another process has published a newer build."""
        if self._index is None or self.store.token() != self._token:
            self._load()
        return self._index

    def info(self) -> CorpusInfo:
        index = self._current()
        m = index.manifest
        return CorpusInfo(
            corpus=str(self.settings.corpus), index_dir=str(self.store.uri),
            files=m.counts.get("files", 0), chunks=m.counts.get("chunks", 0),
            sentences=m.counts.get("sentences", 0), model=_model_label(m.model), index_type=m.index_type,
        )

    # -- asking ------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[str] = ()) -> Response:
        return self._respond(question, history, None)

    def explain(self, question: str, history: Sequence[str] = ()) -> tuple[Response, dict]:
        """Diagnostics for calibration and debugging: the Response and the answer's features."""
        details: dict = {}
        return self._respond(question, history, details), details

    def _respond(self, question: str, history: Sequence[str], details: dict | None) -> Response:
        question, text, notices = self.check_question(question)
        history = tuple(h for h in (self._clean(h)[: self.settings.answer.max_question_chars] for h in history) if h)
        with self._lock:
            return self._ask(self._current(), question, text, history, notices, details)

    def _ask(
        self, index, question: str, text: str, history: tuple[str, ...], notices: list[str], explain=None
    ) -> Response:
        from qa.answering.pipeline import ReadingPlan, Trace, respond
        from qa.answering.question import Question, refers_back
        from qa.index.lexical import terms
        from qa.retrieval.retrieve import retrieve

        key = (text, history)
        cached = self._answers.get(key)
        if cached is not None and not notices and explain is None:
            return cached[0].model_copy(update={"question": question})
        q = Question.standalone(question, text, tuple(notices))
        if history and refers_back(text):
            prev = self._ask(index, history[-1], history[-1], history[:-1], [])
            # tentative answers too: they were shown; the previous question's own referent carries over
            # when its answer is nothing a pronoun points at ("How old was he?" -> 25). Just asked: cached.
            _, prev_referent = self._answers[(history[-1], history[:-1])]
            q = q.following(history[-1], prev.answer.text if prev.answer is not None else None, prev_referent)
        query = q.query
        s = self.settings
        qvec = self.embedder.encode([query], 1)[0]
        plan = ReadingPlan(s.answer.reader_passages, s.answer.agreement_sources,
                           window_tokens=s.answer.reader_window_tokens,
                           window_lexical=s.answer.reader_window_lexical)
        hits = retrieve(index, qvec, terms(query), max(s.retrieval.top_k, plan.pool), s.retrieval.candidates)
        trace = Trace()
        response = respond(
            q, index, hits, self.neural_reader, self.calibration,
            top_k=s.retrieval.top_k, plan=plan, min_score=s.answer.min_score,
            tentative_min_score=s.answer.tentative_min_score, trace=trace, query_vector=qvec,
        )
        if explain is not None:
            explain.update(features=trace.features, text=trace.text, score=trace.score,
                           sources=trace.source_answers, candidates=trace.candidates,
                           passages=trace.passages)
        return self._remember(key, response, q.referent)

    def _remember(self, key, response: Response, referent: str | None = None) -> Response:
        self._answers[key] = (response, referent)
        while len(self._answers) > 256:
            self._answers.popitem(last=False)
        return response

    def check_question(self, question: str) -> tuple[str, str, list[str]]:
        """(question as shown, text to answer, notices); QuestionError when there is nothing to answer.

        Cheap: the CLI calls it before loading the model so a bad question fails at once.
        """
        if not isinstance(question, str):
            raise QuestionError("the question must be text")
        question = _SURROGATE.sub("\ufffd", question)  # undecodable argv bytes cannot be encoded or shown
        text = self._clean(question)
        if not text:
            raise QuestionError("empty question: type a question about the articles")
        notices = []
        limit = self.settings.answer.max_question_chars
        if len(text) > limit:
            notices.append(f"question truncated to its first {limit} of {len(text)} characters")
            text = text[:limit]
        if not any(ch.isalnum() for ch in text):
            raise QuestionError("the question has no words in it")
        return question, text, notices

    @staticmethod
    def _clean(text: str) -> str:
        """Terminal escape sequences are dropped, other control characters become spaces, runs of
        white space fold into one."""
        return " ".join(_CONTROL.sub(" ", _ESCAPE.sub(" ", text)).split())

    def read_source(self, source: str) -> str:
        from qa.corpus.ingest import decode

        root = self.settings.corpus.resolve()
        path = (root / source).resolve()
        if not path.is_relative_to(root):
            raise CorpusError(f"{source} is outside the corpus")
        try:
            return decode(path.read_bytes())
        except OSError as exc:
            raise CorpusError(f"cannot open {source}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise CorpusError(f"cannot show {source}: {exc}") from None


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x9b[0-?]*[ -/]*[@-~]")
"""ANSI CSI sequences (ESC [ ... final byte, or the one-byte CSI U+009B) and OSC strings (ESC ] ... BEL/ST)."""
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _model_label(model: str) -> str:
    return "all-MiniLM-L6-v2 (packaged)" if model == "default" else model
