"""The learned reader under onnxruntime, tokenized by the Rust ``tokenizers``: no torch, no transformers.

:func:`load` returns (tokenizer, model) for :class:`~qa.answering.readers.neural.NeuralReader`:
the tokenizer is a ``tokenizers.Tokenizer`` from the base model's ``tokenizer.json`` and the
model a callable (ids, mask, types) -> (start logits, end logits) over the ONNX export of the
same weights (``qa.runtime.onnx.reader_file``; int8 when ``quantize``).

:func:`qa.answering.readers.spans.preprocess` makes the windows for such a tokenizer: the same
windows (ids, mask, types, passage of each window, offsets) that transformers' fast tokenizer
computes with the same Rust library (tests/test_onnx_runtime.py checks they are equal).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np


class OnnxSpanModel:
    def __init__(self, path: Path, threads: int = 0) -> None:
        from qa.runtime.onnx import session

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

    from qa.runtime.onnx import reader_file

    tokenizer = Tokenizer.from_file(str(Path(base) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    onnx = reader_file(Path(weights), weights_sha256, Path(base), "int8" if quantize else "fp32", shipped=shipped)
    return tokenizer, OnnxSpanModel(onnx.path, threads)
