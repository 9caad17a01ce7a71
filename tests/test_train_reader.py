"""`qa train-reader`: training on a tiny generated SQuAD file lowers the loss and writes a reader that loads."""

from __future__ import annotations

import gzip
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.answering.train import TrainConfig, make_examples, read_squad, train

pytestmark = pytest.mark.slow

NAMES = ["Anna Petrova", "Boris Kuznetsov", "Clara Weiss", "Dmitri Orlov", "Elena Sokolova", "Farid Aziz"]
CITIES = ["Irkutsk", "Tbilisi", "Kazan", "Omsk", "Samara", "Tomsk"]


def tiny_squad(path: Path, n: int = 24) -> Path:
    """Generated paragraphs: '<name> was born in <city> in <year>.' with who/where/when questions."""
    rng = random.Random(0)
    paragraphs = []
    for i in range(n):
        name = f"{rng.choice(NAMES)} {chr(65 + i)}"  # one person per paragraph: questions are unique
        city, year = rng.choice(CITIES), str(1900 + rng.randrange(100))
        context = (f"{name} was born in {city} in {year}. The weather there was cold and the winters were long. "
                   f"{name} later moved away to study engineering at a large university.")
        qas = [
            {"id": f"{i}w", "question": f"Who was born in {city} in {year}?",
             "answers": [{"text": name, "answer_start": context.index(name)}]},
            {"id": f"{i}c", "question": f"Where was {name} born?",
             "answers": [{"text": city, "answer_start": context.index(city)}]},
            {"id": f"{i}y", "question": f"In what year was {name} born?",
             "answers": [{"text": year, "answer_start": context.index(year)}]},
        ]
        paragraphs.append({"context": context, "qas": qas})
    data = {"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]}
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump(data, fh)
    return path


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    """A small randomly initialised BERT with the packaged model's tokenizer (fast to train)."""
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    from qa.runtime.packaged import default_model_path

    src = default_model_path()
    base = tmp_path_factory.mktemp("tiny-base")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, base / name)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    (base / "config.json").write_text(config.to_json_string())
    model = BertModel(config, add_pooling_layer=False)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(base / "model.safetensors"))
    return base


def test_examples_include_answerless_kinds(tmp_path):
    data = read_squad(tiny_squad(tmp_path / "t.json.gz"))
    ex = make_examples(data, random.Random(1), removed_rate=1.0, other_rate=1.0, swap_rate=1.0)
    kinds = {e.kind for e in ex}
    assert {"positive", "removed", "other", "swapped"} <= kinds
    for e in ex:
        if e.answer_start is not None:
            assert e.context[e.answer_start : e.answer_start + len(e.answer_text)] == e.answer_text
        elif e.kind in ("removed", "other"):
            # an answer-less example must not contain the answer of its question
            (orig,) = [o for o in ex if o.kind == "positive" and o.question == e.question][:1]
            assert orig.answer_text.lower() not in e.context.lower()


def test_training_lowers_loss_and_writes_a_reader_that_loads(tmp_path, tiny_base):
    from qa.answering.readers.base import PassageText
    from qa.answering.readers.neural import NeuralReader

    out = tmp_path / "out"
    cfg = TrainConfig(train=str(tiny_squad(tmp_path / "t.json.gz")), out=str(out), base=str(tiny_base),
                      max_length=64, stride=16, batch_size=8, lr=3e-3, epochs=12, seed=3, threads=1)
    metrics = train(cfg, log=lambda m: None)
    assert metrics["last_loss"] < metrics["first_loss"] * 0.8
    assert (out / "reader.safetensors").stat().st_size > 0
    meta = json.loads((out / "reader.json").read_text())
    assert meta["sha256"] and meta["config"]["seed"] == 3
    reader = NeuralReader(out / "reader.safetensors", base_dir=tiny_base, quantize=False)
    result = reader.read("Where was Anna Petrova born?", [PassageText("a.txt", 100, "Anna Petrova was born in Kazan.")])
    assert result.spans
    for span in result.spans:
        assert "Anna Petrova was born in Kazan."[span.start - 100 : span.end - 100] == span.text


def test_resume_continues_from_the_checkpoint(tmp_path, tiny_base):
    data = str(tiny_squad(tmp_path / "t.json.gz"))
    out = tmp_path / "out"
    base = dict(train=data, out=str(out), base=str(tiny_base), max_length=64, stride=16, batch_size=8,
                lr=1e-3, seed=3, threads=1)
    first = train(TrainConfig(**base, epochs=1), log=lambda m: None)
    logs: list[str] = []
    second = train(TrainConfig(**base, epochs=2), resume=True, log=logs.append)
    assert any("resumed at step" in line for line in logs)
    assert second["steps"] > first["steps"]


def test_cli_rejects_a_missing_training_file(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "qa.cli", "train-reader", str(tmp_path / "nope.json"),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "training file not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_trains_in_a_terminal_with_a_progress_bar(tmp_path, tiny_base):
    """`qa train-reader` as a person runs it: in an 80x24 pseudo-terminal, a progress bar, exit 0."""
    sys.path.insert(0, str(Path(__file__).parent))
    from terminal_helpers import qa_command, run_in_terminal

    data = tiny_squad(tmp_path / "t.json.gz")
    term = run_in_terminal([*qa_command(), "train-reader", str(data), "--out", str(tmp_path / "out"),
                            "--base", str(tiny_base), "--max-length", "64", "--stride", "16", "--epochs", "1",
                            "--threads", "1"], cwd=tmp_path)
    assert term.returncode == 0, term.tail()
    assert "Traceback" not in term.text
    assert "training" in term.text and "━" in term.text
    assert (tmp_path / "out" / "reader.safetensors").is_file()
    assert '"steps"' in term.text


@pytest.mark.parametrize(
    ("question", "negated"),
    [
        ("How many people were killed in the fire?", "How many people were not killed in the fire?"),
        ("Who did the council elect in 1990?", "Who did not the council elect in 1990?"),
        ("What year was the bridge opened?", "What year was not the bridge opened?"),
        ("Who never returned home?", None),  # already negative
        ("Which river flows through Paris?", None),  # no auxiliary to negate
    ],
)
def test_negated_questions(question, negated):
    from qa.answering.train import _negate

    assert _negate(question) == negated


def test_negated_and_shape_limited_swaps(tmp_path):
    data = read_squad(tiny_squad(tmp_path / "t.json.gz"))
    ex = make_examples(data, random.Random(2), removed_rate=0.0, other_rate=0.0, swap_rate=1.0,
                       swap_shapes=("name",), negate_rate=1.0)
    negated = [e for e in ex if e.kind == "negated"]
    swapped = [e for e in ex if e.kind == "swapped"]
    assert negated and swapped
    assert all(" not " in e.question and e.answer_start is None for e in negated)
    for e in swapped:
        # one word changed, and it was a name (capitalised), never a number
        candidates = [o.question.split() for o in ex if o.kind == "positive" and o.context == e.context
                      and len(o.question.split()) == len(e.question.split())]
        diffs = [[(a, b) for a, b in zip(q, e.question.split()) if a != b] for q in candidates]
        assert any(len(d) == 1 and d[0][0][:1].isupper() and d[0][1][:1].isupper() for d in diffs)


def test_training_can_start_from_a_trained_reader(tmp_path, tiny_base):
    data = str(tiny_squad(tmp_path / "t.json.gz"))
    base = dict(train=data, base=str(tiny_base), max_length=64, stride=16, batch_size=8, lr=3e-3, seed=3, threads=1)
    first = train(TrainConfig(**base, out=str(tmp_path / "a"), epochs=6), log=lambda m: None)
    logs: list[str] = []
    second = train(TrainConfig(**base, out=str(tmp_path / "b"), epochs=1, init=str(tmp_path / "a" / "reader.safetensors")),
                   log=logs.append)
    assert any("starting from the reader" in line for line in logs)
    # it starts where the first run ended, not from a fresh head
    assert second["first_loss"] < first["first_loss"] * 0.8


def test_distractor_groups_pair_each_answerable_question_with_paragraphs_lacking_its_answer(tmp_path):
    data = read_squad(tiny_squad(tmp_path / "t.json.gz"))
    ex = make_examples(data, random.Random(1), removed_rate=0.0, other_rate=0.0, distractors=2)
    groups: dict[int, list] = {}
    for e in ex:
        groups.setdefault(e.group, []).append(e)
    assert -1 not in groups and len(groups) == 72  # every question is a group
    for members in groups.values():
        (pos,), others = [m for m in members if m.answer_start is not None], [m for m in members if m.kind == "distractor"]
        assert len(others) == 2
        for d in others:
            assert d.question == pos.question and d.context != pos.context
            assert pos.answer_text.lower() not in d.context.lower()
    # off by default: the examples of earlier recipes are unchanged
    assert all(e.group == -1 for e in make_examples(data, random.Random(1), removed_rate=0.0, other_rate=0.0))


def test_group_batches_never_split_a_group():
    from qa.answering.train import group_batches

    groups = [g for g in range(30) for _ in range(3)] + [-1] * 20
    lengths = [10 + (i % 7) for i in range(len(groups))]
    out = group_batches(groups, lengths, 8, random.Random(0))
    assert sorted(i for b in out for i in b) == list(range(len(groups)))
    for g in range(30):
        holding = [b for b in out if any(groups[i] == g for i in b)]
        assert len(holding) == 1
    assert all(len(b) <= 8 for b in out)


def test_shared_loss_normalises_over_every_window_of_the_group():
    import torch

    from qa.answering.train import shared_loss

    torch.manual_seed(0)
    s, e = torch.randn(3, 6), torch.randn(3, 6)
    in_passage = torch.ones(3, 6, dtype=torch.bool)
    in_passage[:, :2] = False  # [CLS] and the question
    s_lab, e_lab = torch.tensor([3, 0, 0]), torch.tensor([4, 0, 0])
    got = shared_loss(s, e, s_lab, e_lab, in_passage, [7, 7, 7])
    ref = [torch.logsumexp(x[:, 2:].reshape(-1), 0) - x[0, lab] for x, lab in ((s, 3), (e, 4))]
    assert torch.isclose(got, (ref[0] + ref[1]) / 2)
    # a distractor span that outscores the gold one raises the loss; one window alone is the plain loss
    s2 = s.clone()
    s2[1, 3] += 5
    assert shared_loss(s2, e, s_lab, e_lab, in_passage, [7, 7, 7]) > got
    assert shared_loss(s, e, s_lab, e_lab, in_passage, [7, -1, -1]) < got
    assert shared_loss(s, e, torch.zeros(3, dtype=torch.long), e_lab, in_passage, [7, 7, 7]) is None


def test_training_with_distractors_lowers_the_loss(tmp_path, tiny_base):
    cfg = TrainConfig(train=str(tiny_squad(tmp_path / "t.json.gz")), out=str(tmp_path / "out"), base=str(tiny_base),
                      max_length=64, stride=16, batch_size=8, lr=3e-3, epochs=6, seed=3, threads=1, distractors=2,
                      other_rate=0.0, removed_rate=0.0)
    metrics = train(cfg, log=lambda m: None)
    assert metrics["last_loss"] < metrics["first_loss"] * 0.8
    meta = json.loads((tmp_path / "out" / "reader.json").read_text())
    assert meta["examples"]["distractor"] == 144 and meta["config"]["distractors"] == 2


def test_group_null_rate_keeps_distractor_windows_out_of_the_per_window_loss(tmp_path, tiny_base):
    from transformers import AutoTokenizer

    from qa.answering.train import featurize

    data = read_squad(tiny_squad(tmp_path / "t.json.gz"))
    ex = make_examples(data, random.Random(1), removed_rate=0.3, other_rate=0.0, distractors=1)
    tok = AutoTokenizer.from_pretrained(str(tiny_base))

    def feats(rate):
        return featurize(tok, ex, max_length=64, stride=16, null_window_rate=0.3, rng=random.Random(2),
                         group_null_rate=rate)

    every, none = feats(1.0), feats(0.0)
    assert all(every.window_loss) and len(every) == len(none)  # the default is the earlier recipe
    for start, group, kept in zip(none.start, none.group, none.window_loss):
        # answer windows and ungrouped (e.g. 'removed') windows stay; grouped no-answer windows go
        assert kept == (start > 0 or group < 0)
    assert not all(none.window_loss) and any(g < 0 for g in none.group)

    cfg = TrainConfig(train=str(tmp_path / "t.json.gz"), out=str(tmp_path / "out"), base=str(tiny_base),
                      max_length=64, stride=16, batch_size=8, lr=3e-3, epochs=6, seed=3, threads=1, distractors=1,
                      group_null_rate=0.0, other_rate=0.0, removed_rate=0.0)
    metrics = train(cfg, log=lambda m: None)
    assert metrics["last_loss"] < metrics["first_loss"] * 0.8
