"""The optional transformers span reader, with a tiny randomly initialised model made here (no hub access)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.errors import ConfigError, ModelError
from qa.hf_reader import TransformersReader

WORDS = (
    "the a man young shot military commissioner in city of ust ilimsk on monday who where when how many "
    "men left russia zinin was arrested 25 year old 261 000 kilometers line border"
).split()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-qa")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?-'\"")
    vocab = specials + WORDS + chars + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab=str(vocab_file))
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer.get_vocab()),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
    )
    BertForQuestionAnswering(config).save_pretrained(folder)
    return folder


PASSAGES = [
    ("a.txt", 1000, "A young man shot the military commissioner in the city of Ust-Ilimsk on Monday."),
    ("b.txt", 0, "  Zinin, 25, was arrested.  "),
    ("c.txt", 42, ""),
    ("d.txt", 7, "261,000 men left Russia. " * 12),  # longer than one window: several windows with stride
]


def check(spans: list, passages: list[tuple[str, int, str]]) -> None:
    for span in spans:
        source, base, text = passages[span.passage]
        assert span.source == source
        assert span.text == text[span.start - base : span.end - base]
        assert span.text and span.text == span.text.strip()
        assert 0.0 <= span.score <= 1.0


def test_loads_lazily_and_maps_spans_to_file_offsets(tiny_model: Path) -> None:
    reader = TransformersReader(str(tiny_model), max_length=32, stride=8)
    assert not reader.loaded
    spans = reader.read("Who shot the military commissioner?", PASSAGES)
    assert reader.loaded
    check(spans, PASSAGES)
    assert {s.passage for s in spans} <= {0, 1, 3}  # the empty passage gives nothing
    assert len({s.passage for s in spans}) == len(spans)
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)


def test_top_n_and_empty_input(tiny_model: Path) -> None:
    reader = TransformersReader(str(tiny_model), max_length=32, stride=8)
    assert len(reader.read("How many men left Russia?", PASSAGES, top_n=1)) == 1
    assert reader.read("How many men left Russia?", []) == []
    assert reader.read("   ", PASSAGES) == []
    assert reader.read("Who?", PASSAGES, top_n=0) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    question=st.text(min_size=1, max_size=40),
    texts=st.lists(st.text(max_size=300), min_size=1, max_size=3),
    base=st.integers(0, 5000),
)
def test_every_span_is_the_slice_of_its_passage(tiny_model: Path, question: str, texts: list[str], base: int) -> None:
    reader = _shared_reader(tiny_model)
    passages = [(f"f{i}.txt", base + 1000 * i, t) for i, t in enumerate(texts)]
    check(reader.read(question, passages), passages)


_READERS: dict[Path, TransformersReader] = {}


def _shared_reader(path: Path) -> TransformersReader:
    if path not in _READERS:
        _READERS[path] = TransformersReader(str(path), max_length=24, stride=6, max_answer_tokens=5)
    return _READERS[path]


def test_missing_model_is_a_model_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    reader = TransformersReader(str(missing))
    with pytest.raises(ModelError, match="no-such-model"):
        reader.warm_up()
    with pytest.raises(ModelError, match="Cannot load question-answering model"):
        reader.read("Who?", PASSAGES)


def test_folder_without_a_model_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match=str(tmp_path.name)):
        TransformersReader(str(tmp_path)).warm_up()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_name_or_path": " "}, "reader_model is empty"),
        ({"model_name_or_path": "m", "max_length": 4}, "max_length must be at least 8"),
        ({"model_name_or_path": "m", "max_length": 32, "stride": 32}, "stride must be between 0 and max_length - 1"),
        ({"model_name_or_path": "m", "max_answer_tokens": 0}, "max_answer_tokens must be at least 1"),
    ],
)
def test_invalid_settings_fail_at_once(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TransformersReader(**kwargs)


def test_service_uses_the_configured_model_reader(tiny_model: Path, tmp_path: Path) -> None:
    """With answer.reader_model set, ask() answers with the model's spans, placed in their sentences."""
    import shutil

    from qa.config import load_settings, with_updates
    from qa.service import QAService

    corpus = tmp_path / "corpus"
    shutil.copytree(Path(__file__).resolve().parent.parent / "seeds", corpus)
    settings = with_updates(
        load_settings(corpus=corpus, index_dir=tmp_path / "index"),
        embedding={"model": "hashing"},
        answer={"reader_model": str(tiny_model), "min_score": 0.0},
    )
    service = QAService(settings)
    service.prepare()
    r = service.ask("Who shot the recruiting officer in Irkutsk?")
    assert r.answered and r.answer is not None
    text = (corpus / r.answer.source).read_text(encoding="utf-8")
    assert text[r.answer.start : r.answer.end] == r.answer.text
    assert r.answer.sentence_start <= r.answer.start and r.answer.end <= r.answer.sentence_end
    assert text[r.answer.sentence_start : r.answer.sentence_end] == r.answer.sentence
