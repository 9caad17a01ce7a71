"""Pre- and post-processing of the learned reader, without torch: windows in, spans out.

preprocess: tokenize (question, passage) pairs into overlapping windows of at most
``max_length`` tokens (``stride`` tokens of overlap), keeping each token's character
offsets into its passage and which tokens belong to the passage.

postprocess: start/end logits of a window -> the best passage spans (n-best, an answer
length limit, never a span in the question or in padding) and the window's no-answer
score (the [CLS] logits), both in the same logit units so they compare across windows
and passages.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Windows:
    """Tokenized windows: ``input_ids`` etc. are (n_windows, length) int64 arrays."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    passage: np.ndarray
    """(n_windows,) index of the passage each window comes from."""
    offsets: np.ndarray
    """(n_windows, length, 2) character offsets into the passage; (-1, -1) outside it."""


@dataclass(frozen=True, slots=True)
class WindowSpan:
    passage: int
    start: int
    """Character offset in the passage text."""
    end: int
    score: float
    """start logit + end logit."""
    null: float
    """The window's no-answer score (start + end logit at [CLS])."""


def preprocess(
    tokenizer, question: str, passages: Sequence[str], *, max_length: int, stride: int, max_question_tokens: int = 64
) -> Windows:
    """Windows over every passage for one question (a transformers fast tokenizer, or a Rust
    ``tokenizers.Tokenizer``: then :func:`rust_preprocess`, the same windows)."""
    if is_rust_tokenizer(tokenizer):
        return rust_preprocess(
            tokenizer, question, passages, max_length=max_length, stride=stride, max_question_tokens=max_question_tokens
        )
    question = _clip_question(tokenizer, question, max_question_tokens)
    enc = tokenizer(
        [question] * len(passages),
        list(passages),
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="longest",
        return_tensors="np",
    )
    n = enc["input_ids"].shape[0]
    offsets = np.full((n, enc["input_ids"].shape[1], 2), -1, dtype=np.int64)
    for w in range(n):
        seq = enc.sequence_ids(w)
        om = enc["offset_mapping"][w]
        for t, sid in enumerate(seq):
            if sid == 1:
                offsets[w, t] = om[t]
    token_type = enc.get("token_type_ids")
    if token_type is None:
        token_type = np.zeros_like(enc["input_ids"])
    return Windows(
        input_ids=enc["input_ids"].astype(np.int64),
        attention_mask=enc["attention_mask"].astype(np.int64),
        token_type_ids=np.asarray(token_type, dtype=np.int64),
        passage=np.asarray(enc["overflow_to_sample_mapping"], dtype=np.int64),
        offsets=offsets,
    )


def is_rust_tokenizer(tokenizer) -> bool:
    return type(tokenizer).__module__.startswith("tokenizers") and hasattr(tokenizer, "encode_batch")


def rust_preprocess(
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


def _clip_question(tokenizer, question: str, max_tokens: int) -> str:
    """Keep the first ``max_tokens`` tokens of a very long question, so windows keep room for the passage."""
    enc = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
    if len(enc["input_ids"]) <= max_tokens:
        return question
    return question[: enc["offset_mapping"][max_tokens - 1][1]]


def postprocess(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    windows: Windows,
    *,
    max_answer_tokens: int = 30,
    n_best: int = 5,
    top_tokens: int = 20,
) -> list[WindowSpan]:
    """The ``n_best`` spans of each window, best first over all windows."""
    out: list[WindowSpan] = []
    for w in range(start_logits.shape[0]):
        out.extend(_window_spans(start_logits[w], end_logits[w], windows, w, max_answer_tokens, n_best, top_tokens))
    out.sort(key=lambda s: -s.score)
    return out


def _window_spans(s, e, windows: Windows, w: int, max_answer_tokens: int, n_best: int, top_tokens: int):
    """The ``n_best`` spans of window ``w`` among its ``top_tokens`` best starts x best ends (in the
    passage, end not before start, at most ``max_answer_tokens`` long), best first; ties go to the later
    start, then the later end. All pairs are scored at once (numpy), not one by one."""
    in_passage = windows.offsets[w, :, 0] >= 0
    if not in_passage.any():
        return []
    null = float(s[0] + e[0])
    masked_s = np.where(in_passage, s, -np.inf)
    masked_e = np.where(in_passage, e, -np.inf)
    k = min(top_tokens, int(in_passage.sum()))
    starts = np.argpartition(-masked_s, k - 1)[:k]
    ends = np.argpartition(-masked_e, k - 1)[:k]
    i, j = np.meshgrid(starts, ends, indexing="ij")
    keep = (j >= i) & (j - i + 1 <= max_answer_tokens)
    i, j = i[keep], j[keep]
    scores = s[i] + e[j]
    order = np.lexsort((-j, -i, -scores))[:n_best]
    offsets, passage = windows.offsets[w], int(windows.passage[w])
    return [WindowSpan(passage=passage, start=int(offsets[i[o], 0]), end=int(offsets[j[o], 1]),
                       score=float(scores[o]), null=null) for o in order]
