"""The learned reader under onnxruntime, tokenized by the Rust ``tokenizers``: no torch, no transformers.

:func:`load` returns (tokenizer, model) for :class:`~qa.answering.readers.neural.NeuralReader`:
the tokenizer is a ``tokenizers.Tokenizer`` from the base model's ``tokenizer.json`` and the
model a callable (ids, mask, types) -> (start logits, end logits) over the ONNX export of the
same weights (``qa.onnx_models.reader_file``; int8 when ``quantize``).

:func:`preprocess` is :func:`qa.answering.readers.spans.preprocess` for such a tokenizer: the
same windows (ids, mask, types, passage of each window, offsets), which is what transformers'
fast tokenizer computes with the same Rust library (tests/test_onnx_runtime.py checks they are equal).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.answering.readers.spans import Windows


def is_rust_tokenizer(tokenizer) -> bool:
    return type(tokenizer).__module__.startswith("tokenizers") and hasattr(tokenizer, "encode_batch")


class OnnxSpanModel:
    def __init__(self, path: Path, threads: int = 0) -> None:
        from qa.onnx_models import session

        self.path = path
        self._session = session(path, threads)
        self._lock = threading.Lock()

    def __call__(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feed = {"input_ids": ids.astype(np.int64, copy=False), "attention_mask": mask.astype(np.int64, copy=False),
                "token_type_ids": types.astype(np.int64, copy=False)}
        with self._lock:
            start, end = self._session.run(None, feed)
        return start, end


def load(weights: Path, weights_sha256: str, base: Path, quantize: bool, threads: int = 0, shipped: bool = True):
    """(tokenizer, model) for the reader in ``weights`` over ``base``'s tokenizer (``shipped``: one of
    qa's pinned readers, exported into the shared cache; otherwise beside the weights file)."""
    from tokenizers import Tokenizer

    from qa.onnx_models import reader_file

    tokenizer = Tokenizer.from_file(str(Path(base) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    onnx = reader_file(Path(weights), weights_sha256, Path(base), "int8" if quantize else "fp32", shipped=shipped)
    return tokenizer, OnnxSpanModel(onnx.path, threads)


def preprocess(
    tokenizer, question: str, passages: Sequence[str], *, max_length: int, stride: int, max_question_tokens: int = 64
) -> Windows:
    """Windows over every passage for one question (a ``tokenizers.Tokenizer``)."""
    clip = tokenizer.encode(question, add_special_tokens=False)
    if len(clip.ids) > max_question_tokens:
        question = question[: clip.offsets[max_question_tokens - 1][1]]
    # The tokenizer's truncation state is per object: a private copy per call keeps threads apart.
    tok = _windowing(tokenizer, max_length, stride)
    encs = tok.encode_batch([(question, p) for p in passages], add_special_tokens=True)
    windows, owner = [], []
    for i, enc in enumerate(encs):
        for e in [enc, *enc.overflowing]:
            windows.append(e)
            owner.append(i)
    width = max(len(e.ids) for e in windows)
    n = len(windows)
    ids = np.zeros((n, width), dtype=np.int64)
    mask = np.zeros((n, width), dtype=np.int64)
    types = np.zeros((n, width), dtype=np.int64)
    offsets = np.full((n, width, 2), -1, dtype=np.int64)
    for w, e in enumerate(windows):
        k = len(e.ids)
        ids[w, :k] = e.ids
        mask[w, :k] = e.attention_mask
        types[w, :k] = e.type_ids
        seq = np.array([-1 if s is None else s for s in e.sequence_ids], dtype=np.int64)
        om = np.asarray(e.offsets, dtype=np.int64).reshape(k, 2)
        offsets[w, :k][seq == 1] = om[seq == 1]
    return Windows(input_ids=ids, attention_mask=mask, token_type_ids=types,
                   passage=np.asarray(owner, dtype=np.int64), offsets=offsets)


_local = threading.local()


def _windowing(tokenizer, max_length: int, stride: int):
    key = (id(tokenizer), max_length, stride)
    cache = getattr(_local, "tokenizers", None)
    if cache is None:
        cache = _local.tokenizers = {}
    tok = cache.get(key)
    if tok is None:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_str(tokenizer.to_str())
        tok.no_padding()
        tok.enable_truncation(max_length, stride=stride, strategy="only_second")
        cache[key] = tok
    return tok
