"""The learned extractive reader (trained by ``qa train-reader``, shipped in ``weights/``).

Three stages, each testable apart: :func:`~qa.answering.readers.spans.preprocess` (question +
passages -> windows with offsets), the model call (batched, one forward for all windows) and
:func:`~qa.answering.readers.spans.postprocess` (logits -> character spans, n-best, a length
limit, never a span in the question or padding). Spans come back in file offsets.

The weights file is pinned by sha256 and checked at load; a different file is refused.

Two backends run the same weights: ``"onnx"`` (the default when onnxruntime is installed):
onnxruntime over an ONNX export of the file plus the Rust tokenizers, no torch; ``"torch"``
(the reference): :class:`~qa.runtime.span_model.SpanModel` with transformers' tokenizer.
``quantize`` picks int8 weights in either (onnxruntime's or torch's dynamic quantisation).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.answering.readers.base import PassageText, ReaderOutput, ReaderSpan
from qa.errors import ModelError
from qa.runtime.packaged import READER_SHA256, default_model_path, reader_weights


class NeuralReader:
    """Extractive reader: the shipped span model over the packaged MiniLM tokenizer."""

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        base_dir: str | Path | None = None,
        max_length: int = 384,
        stride: int = 128,
        max_answer_tokens: int = 30,
        quantize: bool = True,
        threads: int = 0,
        backend: str | None = None,
    ) -> None:
        if max_length < 32:
            raise ModelError(f"reader max_length must be at least 32 tokens, got {max_length}")
        if not 0 <= stride < max_length // 2:
            raise ModelError(f"reader stride must be between 0 and {max_length // 2 - 1}, got {stride}")
        if max_answer_tokens < 1:
            raise ModelError(f"reader max_answer_tokens must be at least 1, got {max_answer_tokens}")
        self.weights = Path(weights) if weights else reader_weights()
        self.name = self.weights.stem
        self.base_dir = Path(base_dir) if base_dir else None
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.quantize = quantize
        self.threads = threads
        if backend is None:
            from qa.runtime.onnx import available

            backend = "onnx" if available() else "torch"
        if backend not in ("onnx", "torch"):
            raise ModelError(f"reader backend must be 'onnx' or 'torch', got {backend!r}")
        self.backend = backend
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                self._load()

    def _load(self) -> None:
        base = self.base_dir or _default_base()
        if self.backend == "onnx":
            self._tokenizer, self._model = _load_onnx(self.weights, base, self.quantize, self.threads)
        else:
            self._tokenizer, self._model = _load_model(self.weights, base, self.quantize)

    def read(self, question: str, passages: Sequence[PassageText]) -> ReaderOutput:
        from qa.answering.readers.spans import postprocess, preprocess

        if not passages:
            return ReaderOutput((), 0.0)
        self.warm_up()
        windows = preprocess(
            self._tokenizer, question, [p.text for p in passages], max_length=self.max_length, stride=self.stride
        )
        start, end = self._forward(windows.input_ids, windows.attention_mask, windows.token_type_ids)
        found = postprocess(start, end, windows, max_answer_tokens=self.max_answer_tokens, n_best=3)
        spans = []
        for s in found:
            p = passages[s.passage]
            text = p.text[s.start : s.end]
            if text.strip():
                spans.append(ReaderSpan(s.passage, p.start + s.start, p.start + s.end, text, s.score, s.null))
        null = float(max((s.null for s in found), default=0.0))
        return ReaderOutput(tuple(spans), null)

    def _forward(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.backend == "onnx":
            return self._model(ids, mask, types)
        import torch

        from qa.runtime.embedder import torch_threads

        with self._lock, torch_threads(self.threads or torch.get_num_threads()), torch.inference_mode():
            s, e = self._model(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types))
        return s.numpy(), e.numpy()


def _checked_sha256(weights: Path) -> str:
    """The weights file's sha256, refused when it is not the pinned one."""
    from qa.hashing import file_sha256

    if not weights.is_file():
        raise ModelError(f"reader weights not found: {weights}")
    expected = READER_SHA256.get(weights.stem)
    digest = file_sha256(weights)
    if expected is not None and digest != expected:
        raise ModelError(
            f"reader weights {weights.name} have sha256 {digest[:12]}…, expected {expected[:12]}…: "
            "the file is damaged or was replaced; reinstall qa or point answer.reader_weights at another reader"
        )
    return digest


@lru_cache(maxsize=2)
def _load_onnx(weights: Path, base: Path, quantize: bool, threads: int):
    """(Rust tokenizer, onnxruntime model), checked against the pin; exported on first use; no torch."""
    from qa.answering.readers.onnx_backend import load

    digest = _checked_sha256(weights)
    return load(weights, digest, base, quantize, threads, shipped=READER_SHA256.get(weights.stem) == digest)


@lru_cache(maxsize=2)
def _load_model(weights: Path, base: Path, quantize: bool):
    """(tokenizer, model), checked against the pin; cached so services in one process share one copy."""
    from qa.runtime.span_model import load_reader

    _checked_sha256(weights)
    try:
        import torch
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(base))
        model = load_reader(weights, base)
        if quantize:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"cannot load the reader {weights.name}: {str(exc).splitlines()[0]}") from None
    return tokenizer, model


def _default_base() -> Path:
    return default_model_path()
