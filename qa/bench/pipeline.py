"""In-process measurements: indexing throughput, warm ``ask`` latency, no-op re-index.

The embedder is loaded once by the caller and shared, so model loading is never timed
here (the fresh-process timings in :mod:`qa.bench.startup` include it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.bench.stats import median, paired_ratio, percentile
from qa.config import Settings

FALLBACK_QUESTIONS = (
    "Who is the political correspondent for Russia and the CIS in Moscow?",
    "What vehicle did the FSB send to the crossing between North Ossetia and Georgia?",
    "Which outlet's exile offshoot reported how many men had left Russia?",
    "How many men left Russia?",
    "Where is the crossing?",
)


class RecordingEmbedder:
    """Passes every call to ``inner``; remembers the texts ``encode`` got and the seconds it took."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.texts: list[str] = []
        self.encode_s = 0.0

    def reset(self) -> None:
        self.texts, self.encode_s = [], 0.0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def fingerprint(self) -> str | None:
        return self.inner.fingerprint()

    @property
    def runtime(self) -> str | None:
        """The inner embedder's ONNX runtime (recorded in the manifest), None for sentence-transformers."""
        return getattr(self.inner, "runtime", None)

    @property
    def runtime_sha256(self) -> str | None:
        return getattr(self.inner, "runtime_sha256", None)

    def warm_up(self) -> None:
        warm = getattr(self.inner, "warm_up", None)
        if warm is not None:
            warm()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress=None) -> np.ndarray:
        self.texts.extend(texts)
        t0 = time.perf_counter()
        try:
            return self.inner.encode(texts, batch_size, progress)
        finally:
            self.encode_s += time.perf_counter() - t0


@dataclass
class Throughput:
    texts: int
    chunks: int
    sentences: int
    pipeline_s: list[float] = field(default_factory=list)
    pipeline_embed_s: list[float] = field(default_factory=list)
    raw_s: list[float] = field(default_factory=list)
    pipeline_cpu_s: list[float] = field(default_factory=list)  # process CPU time, all threads
    raw_cpu_s: list[float] = field(default_factory=list)
    vectors: np.ndarray | None = None  # one raw run's output, reused as real centres by the scale benchmark

    def as_dict(self) -> dict:
        pipe_tps = [self.texts / s for s in self.pipeline_s]
        raw_tps = [self.texts / s for s in self.raw_s]
        return {
            "index_texts_per_s": median(pipe_tps),
            "raw_encode_texts_per_s": median(raw_tps),
            "index_throughput_ratio": paired_ratio(pipe_tps, raw_tps),
            # the same ratio on CPU seconds: far less sensitive to other processes' load
            "index_throughput_ratio_cpu": paired_ratio(self.raw_cpu_s, self.pipeline_cpu_s),
            "texts": self.texts,
            "chunks": self.chunks,
            "sentences": self.sentences,
            "index_s": median(self.pipeline_s),
            "index_embed_s": median(self.pipeline_embed_s),
            "raw_encode_s": median(self.raw_s),
            "repeats": len(self.pipeline_s),
            "runs": [
                {"index_s": p, "index_embed_s": e, "raw_encode_s": r, "index_cpu_s": pc, "raw_cpu_s": rc}
                for p, e, r, pc, rc in zip(
                    self.pipeline_s, self.pipeline_embed_s, self.raw_s, self.pipeline_cpu_s, self.raw_cpu_s
                )
            ],
        }


def plain_model(embedder, device: str = "cpu"):
    """The baseline encoder: a separate, plain ``SentenceTransformer`` of the same weights.

    For the ONNX embedder that is the packaged model on sentence-transformers (torch), so the
    ratio is the new pipeline against plain torch encoding. An embedder that is neither (the
    hashing embedder of the tests) is its own baseline.
    """
    path = getattr(embedder, "path", None)
    if path is None and getattr(embedder, "runtime", None) is not None:
        # the ONNX embedder: its baseline is the model it was exported from, on sentence-transformers
        from qa.runtime.packaged import default_model_path

        path = str(default_model_path())
    if path is None:
        return _SameEncoder(embedder)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device=device)


class _SameEncoder:
    """``SentenceTransformer.encode``'s signature over a qa embedder."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder

    def encode(self, texts, batch_size: int = 32, **_options) -> np.ndarray:
        return self.embedder.encode(list(texts), batch_size)


def index_throughput(
    settings: Settings, embedder, raw_model, repeats: int, on_step: Callable[[str], None] | None = None
) -> Throughput:
    """Interleave full index builds of ``settings.corpus`` (pipeline) and plain encodes of the same texts (raw).

    The pipeline figure is the whole ``qa.index.build.refresh(force=True)``: reading, sentence
    splitting, token counting, chunking, embedding, FAISS + BM25, writing with fsync; the
    model is already loaded. The raw figure is ``SentenceTransformer.encode`` of exactly
    the texts that build embedded, in the same order, with the same batch size.
    """
    from qa.index.build import refresh

    rec = RecordingEmbedder(embedder)
    bs = settings.embedding.batch_size
    warm = ["A short sentence to warm the model up."] * (2 * bs)
    embedder.encode(warm, bs)
    raw_model.encode(warm, batch_size=bs, show_progress_bar=False)
    result: Throughput | None = None
    for r in range(repeats):
        if on_step:
            on_step(f"indexing throughput {r + 1}/{repeats}: pipeline")
        rec.reset()
        c0, t0 = time.process_time(), time.perf_counter()
        report = refresh(settings, lambda: rec, None, force=True)
        pipe_s, pipe_cpu = time.perf_counter() - t0, time.process_time() - c0
        texts = list(rec.texts)
        if report.texts_embedded != len(texts):
            raise RuntimeError(f"build reported {report.texts_embedded} texts but encoded {len(texts)}")
        if result is None:
            result = Throughput(texts=len(texts), chunks=report.chunks, sentences=report.sentences)
        if on_step:
            on_step(f"indexing throughput {r + 1}/{repeats}: plain encode")
        c0, t0 = time.process_time(), time.perf_counter()
        vectors = raw_model.encode(
            texts, batch_size=bs, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        raw_s, raw_cpu = time.perf_counter() - t0, time.process_time() - c0
        result.pipeline_s.append(pipe_s)
        result.pipeline_cpu_s.append(pipe_cpu)
        result.raw_cpu_s.append(raw_cpu)
        result.pipeline_embed_s.append(rec.encode_s)
        result.raw_s.append(raw_s)
        result.vectors = np.asarray(vectors, dtype=np.float32)
    assert result is not None
    return result


def load_questions(path: Path | None) -> tuple[list[tuple[str, tuple[str, ...]]], str]:
    """(question, history) pairs from a JSONL file with ``question`` and optional ``history``."""
    if path is not None and path.is_file():
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            history = row.get("history") or ()
            out.append((str(row["question"]), tuple(str(h) for h in history)))
        if out:
            return out, str(path)
    return [(q, ()) for q in FALLBACK_QUESTIONS], "built-in seed questions"


def timed_asks(service, questions) -> list[float]:
    """Milliseconds of ``service.ask`` for each (question, history), in order."""
    times = []
    for question, history in questions:
        t0 = time.perf_counter()
        service.ask(question, history)
        times.append((time.perf_counter() - t0) * 1000.0)
    return times


def ask_latency(settings: Settings, embedder, questions, repeats: int, baseline: Settings | None = None) -> dict:
    """Warm ``QAService.ask`` over every question, ``repeats`` passes.

    Each pass uses a new service (sharing the loaded embedder), so its answer cache is
    empty and every ask does the full work: query encode, FAISS, BM25, reader. One
    untimed pass first warms lazy imports and caches, as in a chat that has been open
    for a while. With ``baseline`` (e.g. the previous reader revision), its passes are interleaved with
    these, so both see the same machine load; its figures come back as ``baseline_ms_*``.
    """
    from qa.service import QAService

    def one_pass(s: Settings) -> list[float]:
        service = QAService(s, embedder=embedder)
        service.prepare()
        return timed_asks(service, questions)

    runs = {"": settings} | ({"baseline_": baseline} if baseline is not None else {})
    figures: dict[str, dict[str, list[float]]] = {k: {"p50": [], "p95": [], "mean": []} for k in runs}
    for s in runs.values():
        one_pass(s)
    for _ in range(repeats):
        for key, s in runs.items():
            times = one_pass(s)
            figures[key]["p50"].append(percentile(times, 50))
            figures[key]["p95"].append(percentile(times, 95))
            figures[key]["mean"].append(sum(times) / len(times))
    out: dict = {"questions": len(questions), "repeats": repeats}
    for key, f in figures.items():
        name = "ask" if not key else "baseline"
        out[f"{name}_ms_p50"] = median(f["p50"])
        out[f"{name}_ms_p95"] = median(f["p95"])
        out[f"{name}_ms_mean"] = median(f["mean"])
    return out


def query_encode_ms(embedder, questions, repeats: int) -> float:
    """Median time of one single-question encode (the model part of ``ask``)."""
    times = []
    for _ in range(repeats):
        for question, _history in questions:
            t0 = time.perf_counter()
            embedder.encode([question], 1)
            times.append((time.perf_counter() - t0) * 1000.0)
    return median(times)


def noop_reindex(settings: Settings, repeats: int) -> dict:
    """``qa.index.build.refresh`` of an up-to-date index; the model must not even be asked for."""
    from qa.index.build import refresh

    asked = []

    def no_model():
        asked.append(1)
        raise RuntimeError("a refresh of an unchanged corpus asked for the embedding model")

    seconds, embedded = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        report = refresh(settings, no_model, None, force=False)
        seconds.append(time.perf_counter() - t0)
        embedded.append(report.texts_embedded)
    return {
        "noop_reindex_s": median(seconds),
        "noop_reindex_texts_embedded": max(embedded),
        "noop_reindex_model_loaded": bool(asked),
    }


def settings_for(base: Settings, corpus: Path, index_dir: Path) -> Settings:
    data = base.model_dump()
    data["corpus"], data["index_dir"] = corpus, index_dir
    return type(base).model_validate(data)

