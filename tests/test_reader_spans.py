"""The neural reader's pre- and post-processing, apart from the model."""

from __future__ import annotations

import numpy as np
import pytest

from qa.answering.readers.spans import postprocess, preprocess


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from qa.runtime.packaged import default_model_path

    return AutoTokenizer.from_pretrained(str(default_model_path()))


def test_windows_cover_a_long_passage_with_offsets_into_it(tokenizer):
    passage = " ".join(f"Sentence number {i} says that item {i} costs {i * 3} dollars." for i in range(60))
    w = preprocess(tokenizer, "What does item 7 cost?", [passage, "Short one."], max_length=64, stride=16)
    assert w.input_ids.shape[1] <= 64
    assert set(w.passage.tolist()) == {0, 1} and (w.passage == 0).sum() > 3
    for i in range(len(w.passage)):
        text = [passage, "Short one."][w.passage[i]]
        ids = w.input_ids[i]
        for t in np.nonzero(w.offsets[i, :, 0] >= 0)[0]:
            a, b = w.offsets[i, t]
            piece = tokenizer.convert_ids_to_tokens(int(ids[t])).removeprefix("##")
            assert text[a:b].lower() == piece or piece == "[UNK]"
    # the question's tokens are never passage tokens
    assert (w.offsets[:, 0, 0] == -1).all()


def test_very_long_questions_leave_room_for_the_passage(tokenizer):
    w = preprocess(tokenizer, "why " * 500, ["The passage."], max_length=64, stride=8, max_question_tokens=16)
    assert (w.offsets[0, :, 0] >= 0).sum() >= 2


def test_postprocess_picks_the_best_span_inside_the_passage_within_the_length_limit(tokenizer):
    passage = "Ruslan Zinin, 25, opened fire at the enlistment office in Ust-Ilimsk on Monday."
    w = preprocess(tokenizer, "Who opened fire?", [passage], max_length=64, stride=16)
    n = w.input_ids.shape[1]
    s, e = np.zeros((1, n)), np.zeros((1, n))
    ctx = np.nonzero(w.offsets[0, :, 0] >= 0)[0]
    s[0, 1] = e[0, 1] = 50.0  # a question token: must never be chosen
    s[0, ctx[0]] = 9.0  # 'ruslan'
    e[0, ctx[1] + 1] = 9.0  # two tokens after the start
    e[0, ctx[-1]] = 10.0  # too far from the start for max_answer_tokens=5
    s[0, 0] = e[0, 0] = 1.0  # no-answer
    spans = postprocess(s, e, w, max_answer_tokens=5)
    best = spans[0]
    assert (best.start, best.end) == (0, int(w.offsets[0, ctx[1] + 1, 1]))
    assert best.null == 2.0 and best.score == pytest.approx(18.0)
    for sp in spans:
        assert 0 <= sp.start < sp.end <= len(passage)


def test_no_passage_tokens_means_no_spans(tokenizer):
    w = preprocess(tokenizer, "Who?", ["x"], max_length=16, stride=2)
    w.offsets[:] = -1
    assert postprocess(np.zeros((1, w.input_ids.shape[1])), np.zeros((1, w.input_ids.shape[1])), w) == []


def test_postprocess_ranks_every_start_end_pair_like_a_plain_loop():
    """The n-best spans of a window are the best-scoring valid pairs of its top starts x top ends, best
    first, ties to the later start then the later end: checked against a plain loop on random logits."""
    from qa.answering.readers.spans import Windows

    rng = np.random.default_rng(7)
    for trial in range(60):
        n_windows, width = int(rng.integers(1, 5)), int(rng.integers(8, 90))
        offsets = np.full((n_windows, width, 2), -1, dtype=np.int64)
        for w in range(n_windows):
            a = int(rng.integers(1, width - 1))
            b = int(rng.integers(a + 1, width + 1))
            offsets[w, a:b, 0] = np.arange(b - a) * 4
            offsets[w, a:b, 1] = np.arange(b - a) * 4 + 3
        zeros = np.zeros((n_windows, width), dtype=np.int64)
        windows = Windows(input_ids=zeros, attention_mask=zeros + 1, token_type_ids=zeros,
                          passage=np.arange(n_windows), offsets=offsets)
        s = np.round(rng.normal(size=(n_windows, width)), 1).astype(np.float32)  # rounded: ties happen
        e = np.round(rng.normal(size=(n_windows, width)), 1).astype(np.float32)
        longest, n_best = int(rng.integers(1, 12)), int(rng.integers(1, 6))
        expected = []
        for w in range(n_windows):
            inside = offsets[w, :, 0] >= 0
            k = min(20, int(inside.sum()))
            starts = np.argpartition(-np.where(inside, s[w], -np.inf), k - 1)[:k]
            ends = np.argpartition(-np.where(inside, e[w], -np.inf), k - 1)[:k]
            pairs = sorted(((float(s[w, i] + e[w, j]), int(i), int(j)) for i in starts for j in ends
                            if j >= i and j - i + 1 <= longest), reverse=True)[:n_best]
            expected += [(score, w, int(offsets[w, i, 0]), int(offsets[w, j, 1])) for score, i, j in pairs]
        expected.sort(key=lambda x: -x[0])
        got = postprocess(s, e, windows, max_answer_tokens=longest, n_best=n_best)
        assert [(sp.score, sp.passage, sp.start, sp.end) for sp in got] == expected, trial
