"""Optional transformer span reader: a transformers extractive question-answering model.

Used when ``answer.reader_model`` names a model (a hub name already in the local cache, or
a local folder), e.g. a SQuAD-trained model. The model is loaded on first use (or by
:meth:`TransformersReader.warm_up`); nothing is downloaded when ``HF_HUB_OFFLINE=1``.

Long passages are cut into overlapping windows (``max_length`` tokens, ``stride`` tokens of
overlap); the tokenizer's offset mapping turns the best token span of each window back into
character offsets, so ``passage_text[span.start - passage_start : span.end - passage_start]
== span.text`` always holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qa.errors import ConfigError, ModelError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, slots=True)
class ModelSpan:
    """A span the model extracted from one passage."""

    passage: int
    """Index into the passages given to :meth:`TransformersReader.read`."""
    source: str
    start: int
    """File offset of the span's first character (passage start + local offset)."""
    end: int
    text: str
    """Verbatim: the passage's text between ``start`` and ``end``."""
    score: float
    """P(start) x P(end) over the window's passage tokens and the no-answer token, in [0, 1]."""
    qtype: str = "span"


Passage = tuple[str, int, str]
"""(source, file offset of the passage, passage text)."""


class TransformersReader:
    """Extract answer spans with AutoTokenizer + AutoModelForQuestionAnswering (fast tokenizers only)."""

    def __init__(
        self,
        model_name_or_path: str,
        *,
        max_length: int = 384,
        stride: int = 128,
        max_answer_tokens: int = 30,
        device: str = "cpu",
    ) -> None:
        if not model_name_or_path.strip():
            raise ConfigError("answer.reader_model is empty: give a transformers model name or a local path.")
        if max_length < 8:
            raise ConfigError(f"max_length must be at least 8 tokens, got {max_length}.")
        if not 0 <= stride < max_length:
            raise ConfigError(f"stride must be between 0 and max_length - 1 ({max_length - 1}), got {stride}.")
        if max_answer_tokens < 1:
            raise ConfigError(f"max_answer_tokens must be at least 1, got {max_answer_tokens}.")
        self.model_name = model_name_or_path
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.device = device
        self._tokenizer: Any = None
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def warm_up(self) -> None:
        """Load the tokenizer and the model (once); raise ModelError when that is impossible."""
        if self._model is not None:
            return
        try:
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(self.model_name)
            model = AutoModelForQuestionAnswering.from_pretrained(self.model_name)
        except (OSError, ValueError, KeyError, ImportError, RuntimeError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ModelError(f"Cannot load question-answering model {self.model_name!r}: {reason}") from exc
        if not getattr(tokenizer, "is_fast", False):
            raise ModelError(
                f"Cannot use question-answering model {self.model_name!r}: its tokenizer has no fast version, "
                "which is needed to map answers back to character offsets."
            )
        model.to(self.device)
        model.eval()
        # Windows must fit the model: a small model reads fewer positions than max_length.
        positions = getattr(model.config, "max_position_embeddings", None)
        if isinstance(positions, int) and 8 <= positions < self.max_length:
            self.stride = min(self.stride, positions // 3)
            self.max_length = positions
        self._tokenizer, self._model = tokenizer, model

    def _clip_question(self, question: str) -> str:
        """Cut the question so each window keeps more than ``stride`` tokens of passage.

        The tokenizer refuses to split a passage into windows when the question alone leaves
        no room for it ("sequence to truncate too short").
        """
        room = max(1, (self.max_length - self.stride) // 2)
        enc = self._tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        if len(offsets) <= room:
            return question
        return question[: offsets[room - 1][1]]

    def read(self, question: str, passages: Sequence[Passage], top_n: int = 5) -> list[ModelSpan]:
        """Best spans first, at most one per passage, at most ``top_n``; passages without text are skipped."""
        if top_n <= 0 or not question.strip():
            return []
        items = [(i, p) for i, p in enumerate(passages) if p[2].strip()]
        if not items:
            return []
        self.warm_up()
        import torch

        tokenizer, model = self._tokenizer, self._model
        question = self._clip_question(question)
        pad_right = tokenizer.padding_side == "right"
        enc = tokenizer(
            [question] * len(items) if pad_right else [p[2] for _, p in items],
            [p[2] for _, p in items] if pad_right else [question] * len(items),
            truncation="only_second" if pad_right else "only_first",
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=True,
            return_tensors="pt",
        )
        context_id = 1 if pad_right else 0
        inputs = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.no_grad():
            out = model(**inputs)
        starts = out.start_logits.float().cpu().numpy()
        ends = out.end_logits.float().cpu().numpy()
        offsets = enc["offset_mapping"].tolist()
        best: dict[int, ModelSpan] = {}
        for window, sample in enumerate(enc["overflow_to_sample_mapping"].tolist()):
            index, (source, base, text) = items[sample]
            context = [k for k, sid in enumerate(enc.sequence_ids(window)) if sid == context_id]
            found = self._best_in_window(starts[window], ends[window], context, offsets[window])
            if found is None:
                continue
            lo, hi, score = found
            while lo < hi and text[lo].isspace():
                lo += 1
            while hi > lo and text[hi - 1].isspace():
                hi -= 1
            if hi <= lo:
                continue
            span = ModelSpan(index, source, base + lo, base + hi, text[lo:hi], score)
            if index not in best or score > best[index].score:
                best[index] = span
        return sorted(best.values(), key=lambda s: (-s.score, s.passage))[:top_n]

    def _best_in_window(
        self, start_logits: np.ndarray, end_logits: np.ndarray, context: list[int], offsets: list[list[int]]
    ) -> tuple[int, int, float] | None:
        """Best (char start, char end, probability) among the window's passage tokens."""
        if not context:
            return None
        allowed = [0, *context]  # token 0 ([CLS] or the first token) stands for "no answer"
        p_start = _softmax([float(start_logits[k]) for k in allowed])
        p_end = _softmax([float(end_logits[k]) for k in allowed])
        best: tuple[int, int, float] | None = None
        for a in range(1, len(allowed)):
            pa = p_start[a]
            if best is not None and pa <= best[2]:
                continue
            for b in range(a, min(len(allowed), a + self.max_answer_tokens)):
                score = pa * p_end[b]
                if best is None or score > best[2]:
                    lo, hi = offsets[allowed[a]][0], offsets[allowed[b]][1]
                    if hi > lo:
                        best = (lo, hi, score)
        return best


def _softmax(values: list[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]
