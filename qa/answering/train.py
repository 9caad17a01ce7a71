"""``qa train-reader``: fine-tune the extractive reader on SQuAD-format data.

Input is SQuAD v1.1 or v2.0 JSON (optionally gzipped). Every question becomes a positive example
(question, its paragraph, the answer's character offsets), and answer-less examples are made
from it, as a reader meets them after retrieval:

* ``removed``: the same paragraph with the sentence(s) holding the answer taken out (when the
  answer text does not occur elsewhere in it): same topic, same words, no answer;
* ``other``: the paragraph of the same article that shares most words with the question and
  does not contain the answer text;
* ``swapped``: the question with one of its words that anchor it in the paragraph (a name, a
  number or another content word found in the paragraph) replaced by a word of the same shape
  from another paragraph of the article that this paragraph does not contain: the question now
  asks about something the paragraph does not say (SQuAD 2.0's commonest unanswerable kind);
  ``--swap-shapes`` limits it to names and numbers, so a question in other words than the
  paragraph's (a paraphrase) is not taught to be answer-less;
* ``negated``: the question with "not" after its first auxiliary verb ("How many people were
  killed" -> "How many people were not killed"), paired with its paragraph when the paragraph
  holds no negation: the paragraph says what happened, not what did not (SQuAD 2.0's negation kind).

One kind of *positive* is made too, ``paraphrased`` (``--paraphrase-rate``): the question with one
or two of its content words replaced by a WordNet synonym of their commonest sense ("Which city is
the largest" -> "Which metropolis is the largest"), with the same paragraph and answer, so that a
question in other words than the paragraph's is not learnt to be answer-less (qa/answering/synonyms.py).

v2.0 questions marked ``is_impossible`` are answer-less examples as they are. Windows are
labelled with the answer's first/last token, or with [CLS] (position 0) when the window does
not hold the answer. The loss is the mean cross-entropy of start and end positions.

**Shared normalisation** (``--distractors K``, after Clark & Gardner 2018, "Simple and Effective
Multi-Paragraph Reading Comprehension"): qa reads several passages per question and takes the best
span over all of them, but a reader trained on one window at a time learns span scores that are
only comparable *within* a window. With K > 0 every answerable question is read together with the
K paragraphs of its article that share most words with it and lack the answer text (a group); on
top of each window's own loss, the start and end positions are normalised over the passage tokens
of *all* the group's windows, so the gold span must outscore every span of the distractors. [CLS]
stays out of the shared softmax: each window's no-answer score keeps its per-window meaning
(the distractor windows are still labelled [CLS] in their own loss).

This module imports torch, transformers, safetensors and numpy only (and qa's own stdlib-only
helpers; no pydantic, faiss or textual), so ``python -m qa.answering.train`` also runs on a bare GPU machine.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from qa.answering.squad_metrics import best_of, exact_match, token_f1
from qa.answering.synonyms import DEFAULT_ROOT as WORDNET_ROOT
from qa.answering.synonyms import WordNet

READER_FILE = "reader.safetensors"
META_FILE = "reader.json"
LOG_FILE = "train-log.jsonl"
CHECKPOINT = "checkpoint.pt"


# --- data ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Example:
    question: str
    context: str
    answer_start: int | None
    """Character offset of the answer in ``context``; None for an answer-less example."""
    answer_text: str = ""
    kind: str = "positive"
    group: int = -1
    """Examples read together in the shared-normalisation loss (an answerable question and its distractors); -1: none."""


@dataclass(frozen=True, slots=True)
class DevQuestion:
    question: str
    context: str
    answers: tuple[str, ...]
    """Empty for an unanswerable question."""


def read_squad(path: Path) -> list[dict]:
    """The ``data`` list of a SQuAD v1.1/v2.0 file (``.json`` or ``.json.gz``)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, ValueError, EOFError) as exc:
        raise SystemExit(f"qa: cannot read {path}: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise SystemExit(f"qa: {path} is not SQuAD JSON (no 'data' list)")
    return raw["data"]


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"\w+")
SHAPES = ("name", "number", "word")
"""Word shapes a ``swapped`` question may replace (see ``_shape``)."""
_STOP = frozenset(
    "a an the of in on at to for by with from and or is are was were be been what which who whom whose when where"
    " why how did do does that this these those it its as into than then there their his her they he she".split()
)


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        bounds.append((start, m.start()))
        start = m.end()
    bounds.append((start, len(text)))
    return [(a, b) for a, b in bounds if b > a]


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def make_examples(
    data: list[dict], rng: random.Random, *, removed_rate: float, other_rate: float, swap_rate: float = 0.0,
    swap_shapes: Sequence[str] = SHAPES, negate_rate: float = 0.0, answerable_rate: float = 1.0,
    paraphrase_rate: float = 0.0, synonyms: Callable[[str], Sequence[str]] | None = None, distractors: int = 0,
) -> list[Example]:
    """Positive examples plus the answer-less ones described in the module docstring.

    ``distractors`` > 0: each positive (and paraphrased) example gets a group id, shared with that many
    ``distractor`` examples (the same question on the article's paragraphs closest to it without the answer).

    ``answerable_rate`` keeps that share of the answerable questions (and what is made from them);
    v2.0 ``is_impossible`` questions are all kept, so real unanswerable questions can make up more
    of a short run than their share of the file.
    """
    out: list[Example] = []
    groups = 0

    def positive(question: str, context: str, start: int, text: str, kind: str, pi: int, paragraphs, words) -> None:
        nonlocal groups
        if not distractors:
            out.append(Example(question, context, start, text, kind=kind))
            return
        out.append(Example(question, context, start, text, kind=kind, group=groups))
        for other in _closest_without(question, text, pi, paragraphs, words, distractors):
            out.append(Example(question, other, None, kind="distractor", group=groups))
        groups += 1

    for article in data:
        paragraphs = article.get("paragraphs", [])
        words = [_content_words(p["context"]) for p in paragraphs]
        vocab = _shaped_words(paragraphs)
        for pi, para in enumerate(paragraphs):
            context = para["context"]
            for qa in para.get("qas", []):
                question = qa["question"].strip()
                if not question:
                    continue
                if qa.get("is_impossible") or not qa.get("answers"):
                    out.append(Example(question, context, None, kind="impossible"))
                    continue
                if answerable_rate < 1.0 and rng.random() >= answerable_rate:
                    continue
                ans = qa["answers"][0]
                start, text = int(ans["answer_start"]), ans["text"]
                if context[start : start + len(text)] != text:
                    found = context.find(text)
                    if found < 0:
                        continue
                    start = found
                positive(question, context, start, text, "positive", pi, paragraphs, words)
                if rng.random() < removed_rate:
                    neg = _without_answer_sentence(context, start, start + len(text), text)
                    if neg:
                        out.append(Example(question, neg, None, kind="removed"))
                if rng.random() < other_rate and len(paragraphs) > 1:
                    for best in _closest_without(question, text, pi, paragraphs, words, 1):
                        out.append(Example(question, best, None, kind="other"))
                if rng.random() < swap_rate:
                    swapped = _swap_anchor(question, context, text, vocab, rng, swap_shapes)
                    if swapped:
                        out.append(Example(swapped, context, None, kind="swapped"))
                if rng.random() < negate_rate and not _NEGATION.search(context):
                    negated = _negate(question)
                    if negated:
                        out.append(Example(negated, context, None, kind="negated"))
                if paraphrase_rate and synonyms is not None and rng.random() < paraphrase_rate:
                    paraphrased = _paraphrase(question, text, synonyms, rng)
                    if paraphrased:
                        positive(paraphrased, context, start, text, "paraphrased", pi, paragraphs, words)
    return out


def _closest_without(question: str, answer: str, pi: int, paragraphs: list[dict], words: list[set[str]],
                     k: int) -> list[str]:
    """The ``k`` paragraphs (other than ``pi``) sharing most content words with the question that do
    not contain the answer text, most shared first (ties: article order)."""
    q = _content_words(question)
    ranked = sorted((-len(q & words[oj]), oj) for oj, other in enumerate(paragraphs)
                    if oj != pi and answer.lower() not in other["context"].lower())
    return [paragraphs[oj]["context"] for _, oj in ranked[:k]]


def _paraphrase(question: str, answer: str, synonyms: Callable[[str], Sequence[str]],
                rng: random.Random) -> str | None:
    """The question with one or two of its lowercase content words replaced by a synonym, or None.

    Names (capitalised words past the first), numbers and words of the answer stay as they are:
    the question asks the same thing in other words, so its answer does not change.
    """
    lowered_answer = answer.lower()
    spots = []
    for m in _TOKEN.finditer(question):
        word = m.group()
        if (len(word) < 3 or word[0].isdigit() or (m.start() > 0 and word[0].isupper())
                or word.lower() in _STOP or word.lower() in lowered_answer):
            continue
        options = synonyms(word)
        if options:
            spots.append((m, options))
    if not spots:
        return None
    chosen = sorted(rng.sample(spots, min(len(spots), rng.choice((1, 2)))), key=lambda s: s[0].start())
    parts, last = [], 0
    for m, options in chosen:
        new = rng.choice(list(options))
        if m.start() == 0 and m.group()[0].isupper():
            new = new[0].upper() + new[1:]
        parts += [question[last : m.start()], new]
        last = m.end()
    parts.append(question[last:])
    return "".join(parts)


_AUX = re.compile(r"\b(?:is|are|was|were|did|does|do|can|could|would|will|has|have|had|should|might|must)\b",
                  re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never|no|none|nobody|nothing|neither|nor|without)\b|n't\b", re.IGNORECASE)


def _negate(question: str) -> str | None:
    """The question with "not" after its first auxiliary verb past the question word, or None."""
    if _NEGATION.search(question):
        return None
    m = next((m for m in _AUX.finditer(question) if m.start() > 0), None)
    if m is None or m.end() >= len(question.rstrip("?").rstrip()):
        return None
    return question[: m.end()] + " not" + question[m.end() :]


_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]+|\d[\d,.]*")


def _shape(word: str) -> str:
    if word[0].isdigit():
        return "number"
    return "name" if word[0].isupper() else "word"


def _shaped_words(paragraphs: list[dict]) -> dict[str, list[str]]:
    """The article's words by shape (names, numbers, other content words), for swapping."""
    seen: dict[str, set[str]] = {"number": set(), "name": set(), "word": set()}
    for para in paragraphs:
        for m in _TOKEN.finditer(para["context"]):
            w = m.group().rstrip(".,")
            if len(w) > 2 and w.lower() not in _STOP:
                seen[_shape(w)].add(w)
    return {k: sorted(v) for k, v in seen.items()}


def _swap_anchor(question: str, context: str, answer: str, vocab: dict[str, list[str]],
                 rng: random.Random, shapes: Sequence[str] = SHAPES) -> str | None:
    lowered = context.lower()
    anchors = [m for m in _TOKEN.finditer(question)
               if m.start() > 0 and len(m.group()) > 2 and m.group().lower() not in _STOP
               and m.group().lower() in lowered and _shape(m.group()) in shapes]
    if not anchors:
        return None
    m = rng.choice(anchors)
    pool = [w for w in vocab[_shape(m.group())] if w.lower() not in lowered]
    if not pool:
        return None
    new = rng.choice(pool)
    if new.lower() in answer.lower():
        return None
    return question[: m.start()] + new + question[m.end() :]


def _without_answer_sentence(context: str, start: int, end: int, text: str) -> str | None:
    kept = [context[a:b] for a, b in _sentences(context) if b <= start or a >= end]
    rest = " ".join(kept)
    if len(rest) < 80 or text.lower() in rest.lower():
        return None
    return rest


def dev_questions(data: list[dict]) -> list[DevQuestion]:
    out = []
    for article in data:
        for para in article.get("paragraphs", []):
            for qa in para.get("qas", []):
                answers = tuple(a["text"] for a in qa.get("answers", []) if a.get("text"))
                if qa.get("is_impossible"):
                    answers = ()
                out.append(DevQuestion(qa["question"], para["context"], answers))
    return out


@dataclass(slots=True)
class Features:
    input_ids: list[np.ndarray] = field(default_factory=list)
    token_type_ids: list[np.ndarray] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)
    group: list[int] = field(default_factory=list)
    """The window's example's group (-1: none), for the shared-normalisation loss."""
    window_loss: list[bool] = field(default_factory=list)
    """Whether the window is in the per-window loss (False: read only in its group's shared loss)."""

    def __len__(self) -> int:
        return len(self.start)


def featurize(
    tokenizer, examples: Sequence[Example], *, max_length: int, stride: int, null_window_rate: float,
    rng: random.Random, batch: int = 2000, progress: Callable[[int, int], None] | None = None,
    group_null_rate: float = 1.0,
) -> Features:
    """Windows with start/end token labels (0 = [CLS] = no answer in this window).

    Windows of a positive example that miss its answer are kept with ``null_window_rate`` (all of
    them when the example is in a group: the shared loss needs every window the group reads);
    windows of answer-less examples are all kept. A grouped window without the answer (a distractor's,
    or one of the positive's own) is also in the per-window loss with ``group_null_rate`` (1: all of
    them); the others are read only in the group's shared loss, so that the distractors teach the
    reader to rank spans across passages without crowding the per-window loss with no-answer targets.
    """
    feats = Features()
    for lo in range(0, len(examples), batch):
        chunk = examples[lo : lo + batch]
        enc = tokenizer(
            [e.question[:1000] for e in chunk],
            [e.context for e in chunk],
            truncation="only_second",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        for w, ex_i in enumerate(enc["overflow_to_sample_mapping"]):
            ex = chunk[ex_i]
            seq = enc.sequence_ids(w)
            offsets = enc["offset_mapping"][w]
            s_label = e_label = 0
            if ex.answer_start is not None:
                a0, a1 = ex.answer_start, ex.answer_start + len(ex.answer_text)
                ctx = [t for t, sid in enumerate(seq) if sid == 1]
                if ctx and offsets[ctx[0]][0] <= a0 and offsets[ctx[-1]][1] >= a1:
                    s_label = next(t for t in ctx if offsets[t][1] > a0)
                    e_label = next(t for t in reversed(ctx) if offsets[t][0] < a1)
                elif ex.group < 0 and rng.random() >= null_window_rate:
                    continue
            feats.input_ids.append(np.asarray(enc["input_ids"][w], dtype=np.int32))
            types = enc["token_type_ids"][w] if "token_type_ids" in enc else [0] * len(enc["input_ids"][w])
            feats.token_type_ids.append(np.asarray(types, dtype=np.int8))
            feats.start.append(s_label)
            feats.end.append(e_label)
            feats.group.append(ex.group)
            feats.window_loss.append(bool(s_label) or ex.group < 0 or group_null_rate >= 1.0
                                     or rng.random() < group_null_rate)
        if progress:
            progress(min(lo + batch, len(examples)), len(examples))
    return feats


def batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar lengths (less padding): sort within pools of 50 batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    out = []
    for lo in range(0, len(order), pool):
        part = sorted(order[lo : lo + pool], key=lambda i: lengths[i])
        out.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(out)
    return out


def group_batches(groups: Sequence[int], lengths: Sequence[int], batch_size: int,
                  rng: random.Random) -> list[list[int]]:
    """Shuffled batches of about ``batch_size`` windows that never split a group (each group's windows
    stay in one batch, for the shared-normalisation loss); windows without a group are units of one.
    Units are sorted by length within pools, as in :func:`batches`."""
    units: dict[int, list[int]] = {}
    singles: list[list[int]] = []
    for i, g in enumerate(groups):
        if g < 0:
            singles.append([i])
        else:
            units.setdefault(g, []).append(i)
    order = singles + list(units.values())
    rng.shuffle(order)
    pool = batch_size * 50
    out: list[list[int]] = []
    for lo in range(0, len(order), pool):
        part = sorted(order[lo : lo + pool], key=lambda u: max(lengths[i] for i in u))
        batch: list[int] = []
        for unit in part:
            if batch and len(batch) + len(unit) > batch_size:
                out.append(batch)
                batch = []
            batch.extend(unit)
        if batch:
            out.append(batch)
    rng.shuffle(out)
    return out


def shared_loss(s, e, s_lab, e_lab, in_passage, groups: Sequence[int]):
    """Mean over the batch's groups with an answer of the start and end cross-entropies, each
    normalised over the passage tokens of all the group's windows ([CLS] and the question left out);
    the target is the gold token in every window that holds it (their probabilities summed).
    None when no group in the batch holds an answer. ``s``, ``e``: (windows, length) logits."""
    import torch

    rows_of: dict[int, list[int]] = {}
    for r, g in enumerate(groups):
        if g >= 0:
            rows_of.setdefault(g, []).append(r)
    losses = []
    for rows in rows_of.values():
        idx = torch.tensor(rows, device=s.device)
        gold = s_lab[idx] > 0
        if not bool(gold.any()):
            continue
        mask, holding = in_passage[idx], gold.nonzero().squeeze(1)
        terms = []
        for logits, lab in ((s[idx], s_lab[idx]), (e[idx], e_lab[idx])):
            norm = torch.logsumexp(logits.float().masked_fill(~mask, -1e4).reshape(-1), 0)
            picked = logits.float()[holding, lab[holding]]
            terms.append(norm - torch.logsumexp(picked, 0))
        losses.append((terms[0] + terms[1]) / 2)
    return torch.stack(losses).mean() if losses else None


# --- configuration --------------------------------------------------------------------


@dataclass(slots=True)
class TrainConfig:
    train: str
    out: str
    base: str
    dev: str | None = None
    device: str = "cpu"
    max_length: int = 192
    stride: int = 64
    batch_size: int = 16
    lr: float = 1e-4
    warmup: float = 0.06
    weight_decay: float = 0.01
    epochs: float = 1.0
    max_questions: int = 0
    """0 = all; otherwise the first N questions after a seeded shuffle of articles."""
    removed_rate: float = 0.35
    other_rate: float = 0.35
    swap_rate: float = 0.0
    swap_shapes: tuple[str, ...] = SHAPES
    negate_rate: float = 0.0
    answerable_rate: float = 1.0
    """Share of answerable questions kept (unanswerable v2.0 questions are all kept)."""
    paraphrase_rate: float = 0.0
    """Share of answerable questions also asked in other words (WordNet synonyms), same answer."""
    distractors: int = 0
    """Paragraphs read beside each answerable question's own in the shared-normalisation loss (0: off)."""
    shared_weight: float = 1.0
    """Weight of the shared-normalisation loss beside the per-window loss."""
    group_null_rate: float = 1.0
    """Share of a group's windows without the answer also in the per-window loss (1: all; see featurize)."""
    wordnet: str = str(WORDNET_ROOT)
    """WordNet 3.0 dictionary folder, read only when ``paraphrase_rate`` > 0."""
    init: str | None = None
    """A trained reader's weights to start from (continued fine-tuning) instead of a fresh head on the base."""
    null_window_rate: float = 0.3
    max_minutes: float = 0.0
    """0 = no limit; otherwise the schedule is fitted to end by then (measured step time)."""
    seed: int = 13
    threads: int = 0
    bf16: bool = False
    dev_every_minutes: float = 0.0
    """Also evaluate on --dev during training every N minutes (0 = only at the end)."""

    @classmethod
    def for_device(cls, device: str, **values) -> TrainConfig:
        gpu = {"max_length": 384, "stride": 128, "batch_size": 64, "lr": 1.5e-4, "epochs": 2.0, "bf16": True}
        base = gpu if device.startswith("cuda") else {}
        base.update({k: v for k, v in values.items() if v is not None})
        return cls(device=device, **base)


# --- model call, shared by training-time evaluation --------------------------------------


def pad(rows: Sequence[np.ndarray], value: int = 0) -> np.ndarray:
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), value, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def evaluate_dev(model, tokenizer, questions: Sequence[DevQuestion], *, device: str, max_length: int, stride: int,
                 bf16: bool, batch: int = 64) -> dict[str, float]:
    """Gold-paragraph reading: answerable EM/F1 (best span) and the no-answer AUC."""
    import torch

    from qa.answering.readers.spans import postprocess, preprocess

    model.eval()
    f1s, ems, margins, has = [], [], [], []
    with torch.inference_mode():
        for lo in range(0, len(questions), batch):
            part = questions[lo : lo + batch]
            wins = [preprocess(tokenizer, q.question, [q.context], max_length=max_length, stride=stride) for q in part]
            rows_ids = [r for w in wins for r in w.input_ids]
            rows_mask = [r for w in wins for r in w.attention_mask]
            rows_type = [r for w in wins for r in w.token_type_ids]
            ids = torch.from_numpy(pad(rows_ids)).to(device)
            mask = torch.from_numpy(pad(rows_mask)).to(device)
            types = torch.from_numpy(pad(rows_type)).to(device)
            with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
                s, e = model(ids, mask, types)
            s, e = s.float().cpu().numpy(), e.float().cpu().numpy()
            row = 0
            for q, w in zip(part, wins):
                n, width = w.input_ids.shape
                spans = postprocess(s[row : row + n, :width], e[row : row + n, :width], w)
                row += n
                best = spans[0] if spans else None
                text = q.context[best.start : best.end] if best else ""
                null = min((sp.null for sp in spans), default=0.0)
                margins.append((best.score - null) if best else -1e9)
                has.append(bool(q.answers))
                if q.answers:
                    f1s.append(best_of(token_f1, text, q.answers))
                    ems.append(best_of(exact_match, text, q.answers))
    model.train()
    return {
        "answerable_f1": float(np.mean(f1s)) if f1s else float("nan"),
        "answerable_em": float(np.mean(ems)) if ems else float("nan"),
        "no_answer_auc": auc(margins, has),
        "questions": len(questions),
    }


def auc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Area under the ROC curve (ties count half); nan without both classes."""
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    if not pos or not neg:
        return float("nan")
    ranks = _ranks(list(pos) + list(neg))
    return float((sum(ranks[: len(pos)]) - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


# --- training -------------------------------------------------------------------------


def train(cfg: TrainConfig, *, resume: bool = False, log: Callable[[str], None] = print,
          progress_factory=None) -> dict:
    """Train, write ``reader.safetensors`` + ``reader.json`` into ``cfg.out``; return the final metrics."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    from qa.hashing import file_sha256
    from qa.runtime.span_model import from_base, load_reader, reader_state

    t0 = time.monotonic()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)

    data = read_squad(Path(cfg.train))
    if cfg.max_questions:
        rng.shuffle(data)
        data = _first_questions(data, cfg.max_questions)
    examples = make_examples(data, rng, removed_rate=cfg.removed_rate, other_rate=cfg.other_rate,
                             swap_rate=cfg.swap_rate, swap_shapes=cfg.swap_shapes, negate_rate=cfg.negate_rate,
                             answerable_rate=cfg.answerable_rate, paraphrase_rate=cfg.paraphrase_rate,
                             synonyms=_wordnet(cfg) if cfg.paraphrase_rate else None,
                             distractors=cfg.distractors)
    kinds = {k: sum(1 for e in examples if e.kind == k)
             for k in ("positive", "paraphrased", "removed", "other", "swapped", "negated", "impossible", "distractor")}
    log(f"examples: {len(examples)} {kinds}")
    tokenizer = AutoTokenizer.from_pretrained(cfg.base)
    feats = featurize(tokenizer, examples, max_length=cfg.max_length, stride=cfg.stride,
                      null_window_rate=cfg.null_window_rate, rng=rng, group_null_rate=cfg.group_null_rate)
    n_null = sum(1 for s in feats.start if s == 0)
    shared_only = sum(1 for w in feats.window_loss if not w)
    log(f"windows: {len(feats)} ({n_null} without an answer"
        + (f", {shared_only} of them read only in the shared loss" if shared_only else "")
        + f"), {time.monotonic() - t0:.0f} s")
    dev = dev_questions(read_squad(Path(cfg.dev))) if cfg.dev else []

    device = cfg.device
    if cfg.init:
        model = load_reader(Path(cfg.init), Path(cfg.base)).to(device)
        model.train()
        log(f"starting from the reader {cfg.init}")
    else:
        model = from_base(Path(cfg.base), seed=cfg.seed).to(device)
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() > 1]
    no_decay = [p for p in params if p.dim() <= 1]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, fused=device.startswith("cuda"),
    )
    lengths = [len(x) for x in feats.input_ids]
    steps_per_epoch = math.ceil(len(feats) / cfg.batch_size)
    plan = {"total": max(1, int(steps_per_epoch * cfg.epochs)), "step": 0, "epoch": 0, "in_epoch": 0}
    planned = plan["total"]
    warm = max(1, int(plan["total"] * cfg.warmup))

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (plan["total"] - step) / max(1, plan["total"] - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s))
    ckpt = out / CHECKPOINT
    if resume and ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        plan.update({k: state["plan"][k] for k in ("step", "epoch", "in_epoch")})
        log(f"resumed at step {plan['step']} of {plan['total']}")
    elif resume:
        log("no checkpoint to resume from: starting afresh")

    def save_checkpoint() -> None:
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "plan": dict(plan), "config": asdict(cfg)}, tmp)
        os.replace(tmp, ckpt)

    logf = open(out / LOG_FILE, "a", encoding="utf-8")
    budget = cfg.max_minutes * 60 if cfg.max_minutes else None
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    step_times: list[float] = []
    last_ckpt = last_dev = time.monotonic()
    running: list[float | None] = []
    first_losses: list[float] = []
    last_losses: list[float | None] = []
    bar = progress_factory(plan["total"]) if progress_factory else None
    stop = False
    while not stop and plan["step"] < plan["total"]:
        batch_rng = random.Random(cfg.seed * 1000 + plan["epoch"])
        order = (group_batches(feats.group, lengths, cfg.batch_size, batch_rng) if cfg.distractors
                 else batches(lengths, cfg.batch_size, batch_rng))
        for bi in range(plan["in_epoch"], len(order)):
            if plan["step"] >= plan["total"]:
                break
            tic = time.monotonic()
            idx = order[bi]
            ids = torch.from_numpy(pad([feats.input_ids[i] for i in idx])).to(device, non_blocking=True)
            types = torch.from_numpy(pad([feats.token_type_ids[i] for i in idx])).to(device, non_blocking=True)
            mask = (ids != 0).long()
            mask[:, 0] = 1
            s_lab = torch.tensor([feats.start[i] for i in idx], device=device)
            e_lab = torch.tensor([feats.end[i] for i in idx], device=device)
            with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=cfg.bf16):
                s, e = model(ids, mask, types)
            s = s.masked_fill(mask == 0, -1e4)
            e = e.masked_fill(mask == 0, -1e4)
            if cfg.distractors and cfg.group_null_rate < 1.0:
                keep = torch.tensor([feats.window_loss[i] for i in idx], device=device)
                if bool(keep.any()):
                    loss = (loss_fn(s[keep], s_lab[keep]) + loss_fn(e[keep], e_lab[keep])) / 2
                else:
                    loss = s.sum() * 0.0
            else:
                loss = (loss_fn(s, s_lab) + loss_fn(e, e_lab)) / 2
            if cfg.distractors:
                in_passage = (types == 1) & (mask == 1)
                in_passage[:, 0] = False
                shared = shared_loss(s, e, s_lab, e_lab, in_passage, [feats.group[i] for i in idx])
                if shared is not None:
                    loss = loss + cfg.shared_weight * shared
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            plan["step"] += 1
            plan["in_epoch"] = bi + 1
            running.append(float(loss.detach()) if plan["step"] % 10 == 0 else None)
            if len(first_losses) < 10:
                first_losses.append(float(loss.detach()))
            last_losses.append(float(loss.detach()) if len(last_losses) < 10 or plan["step"] % 10 == 0 else None)
            last_losses[:] = [x for x in last_losses if x is not None][-10:]
            step_times.append(time.monotonic() - tic)
            if bar:
                bar(plan["step"], plan["total"])
            if budget and plan["step"] % 200 == 30:
                # fit the schedule to the time budget from the recent step time (never past the plan)
                per_step = float(np.median(step_times[-200:])) * 1.03
                left = budget - (time.monotonic() - t0) - 45
                fit = min(planned, plan["step"] + max(1, int(left / per_step)))
                if fit != plan["total"]:
                    log(f"time budget: {plan['total']} steps -> {fit} ({per_step * 1000:.0f} ms/step)")
                    plan["total"] = fit
            if plan["step"] % 100 == 0:
                losses = [x for x in running if x is not None]
                rec = {"step": plan["step"], "total": plan["total"], "epoch": plan["epoch"],
                       "loss": float(np.mean(losses)) if losses else None, "lr": sched.get_last_lr()[0],
                       "elapsed_s": round(time.monotonic() - t0, 1)}
                running.clear()
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
                if not bar:
                    log(json.dumps(rec))
            now = time.monotonic()
            if dev and cfg.dev_every_minutes and now - last_dev > cfg.dev_every_minutes * 60:
                metrics = evaluate_dev(model, tokenizer, dev, device=device, max_length=cfg.max_length,
                                       stride=cfg.stride, bf16=cfg.bf16)
                logf.write(json.dumps({"step": plan["step"], "dev": metrics}) + "\n")
                log(f"dev at step {plan['step']}: {metrics}")
                last_dev = time.monotonic()
            if now - last_ckpt > 600:
                save_checkpoint()
                last_ckpt = now
            if budget and now - t0 > budget:
                log("time budget reached: stopping")
                stop = True
                break
        else:
            plan["epoch"] += 1
            plan["in_epoch"] = 0
            save_checkpoint()
    save_checkpoint()
    metrics: dict = {"steps": plan["step"], "windows_seen": plan["step"] * cfg.batch_size,
                     "first_loss": float(np.mean(first_losses)) if first_losses else None,
                     "last_loss": float(np.mean([x for x in last_losses if x is not None])) if last_losses else None}
    if dev:
        metrics.update(evaluate_dev(model, tokenizer, dev, device=device, max_length=cfg.max_length,
                                    stride=cfg.stride, bf16=cfg.bf16))
    metrics["train_seconds"] = round(time.monotonic() - t0, 1)
    weights = out / READER_FILE
    save_file(reader_state(model, include_word_embeddings=False), str(weights))
    meta = {
        "format": "qa-span-reader/1",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "base_sha256": file_sha256(Path(cfg.base) / "model.safetensors"),
        "word_embeddings": "from the base model (frozen in training)",
        "dtype": "float16",
        "sha256": file_sha256(weights),
        "config": asdict(cfg),
        "examples": kinds,
        "windows": len(feats),
        "metrics": metrics,
        "torch": torch.__version__,
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    logf.write(json.dumps({"final": metrics}) + "\n")
    logf.close()
    log(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB): {metrics}")
    return metrics


def _wordnet(cfg: TrainConfig) -> Callable[[str], Sequence[str]]:
    try:
        return WordNet(cfg.wordnet).synonyms
    except FileNotFoundError as exc:
        raise SystemExit(f"qa: --paraphrase-rate needs WordNet: {exc}") from None


def _first_questions(data: list[dict], limit: int) -> list[dict]:
    out, n = [], 0
    for article in data:
        if n >= limit:
            break
        out.append(article)
        n += sum(len(p.get("qas", [])) for p in article.get("paragraphs", []))
    return out


# --- command line ---------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("train", metavar="TRAIN.json[.gz]", help="SQuAD v1.1/v2.0 training file")
    p.add_argument("--dev", metavar="DEV.json", help="SQuAD file for dev F1/AUC (model selection only)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for reader.safetensors, reader.json, logs")
    p.add_argument("--max-minutes", type=float, help="fit the schedule to end within N minutes")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.add_argument("--base", metavar="DIR", help="base model folder (default: the packaged all-MiniLM-L6-v2)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    p.add_argument("--epochs", type=float)
    p.add_argument("--max-questions", type=int)
    p.add_argument("--max-length", type=int)
    p.add_argument("--stride", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--removed-rate", type=float)
    p.add_argument("--other-rate", type=float)
    p.add_argument("--swap-rate", type=float)
    p.add_argument("--swap-shapes", help="comma-separated shapes a swapped question may replace: name,number,word")
    p.add_argument("--negate-rate", type=float, help="share of questions also made answer-less by adding 'not'")
    p.add_argument("--answerable-rate", type=float,
                   help="keep this share of the answerable questions (v2.0 unanswerable ones are all kept)")
    p.add_argument("--paraphrase-rate", type=float,
                   help="share of answerable questions also asked with WordNet synonyms (same answer)")
    p.add_argument("--wordnet", metavar="DIR", help=f"WordNet 3.0 dictionary folder (default {WORDNET_ROOT})")
    p.add_argument("--init", metavar="WEIGHTS", help="start from a trained reader (e.g. the shipped one) instead of the base")
    p.add_argument("--null-window-rate", type=float)
    p.add_argument("--dev-every-minutes", type=float)
    p.add_argument("--distractors", type=int,
                   help="paragraphs read beside each answerable question's own, span scores normalised over all (0: off)")
    p.add_argument("--shared-weight", type=float, help="weight of that shared-normalisation loss (default 1)")
    p.add_argument("--group-null-rate", type=float,
                   help="share of a group's windows without the answer also in the per-window loss (default 1: all)")


def config_from_args(args: argparse.Namespace, default_base: Callable[[], str]) -> TrainConfig:
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return TrainConfig.for_device(
        device, train=args.train, out=args.out, base=args.base or default_base(), dev=args.dev,
        max_minutes=args.max_minutes, epochs=args.epochs, max_questions=args.max_questions,
        max_length=args.max_length, stride=args.stride, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        threads=args.threads, removed_rate=args.removed_rate, other_rate=args.other_rate,
        swap_rate=args.swap_rate, null_window_rate=args.null_window_rate, dev_every_minutes=args.dev_every_minutes,
        swap_shapes=_shapes(args.swap_shapes), negate_rate=args.negate_rate, init=args.init,
        answerable_rate=args.answerable_rate, paraphrase_rate=args.paraphrase_rate, wordnet=args.wordnet,
        distractors=args.distractors, shared_weight=args.shared_weight, group_null_rate=args.group_null_rate,
    )


def _shapes(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    shapes = tuple(s.strip() for s in value.split(",") if s.strip())
    bad = [s for s in shapes if s not in SHAPES]
    if bad or not shapes:
        raise SystemExit(f"qa: --swap-shapes takes {','.join(SHAPES)}, not {value!r}")
    return shapes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.answering.train", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    if not args.base:
        parser.error("--base is required when run as a module")
    train(config_from_args(args, lambda: args.base), resume=args.resume,
          log=lambda m: print(m, file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
