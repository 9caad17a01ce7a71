"""The shipped learned reader, through the service and the command line, with the real models."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.answering.readers.base import PassageText
from qa.answering.readers.neural import NeuralReader
from qa.config import load_settings
from qa.errors import ModelError
from qa.runtime.packaged import DEFAULT_READER, READER_SHA256, WEIGHTS_DIR
from qa.service import QAService
from tests.test_answer import assert_offsets

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHIPPED = WEIGHTS_DIR / f"{DEFAULT_READER}.safetensors"


def test_the_shipped_weights_match_their_pin():
    from qa.hashing import file_sha256

    assert file_sha256(SHIPPED) == READER_SHA256[DEFAULT_READER]
    assert SHIPPED.stat().st_size <= 30 * 1024 * 1024


def test_a_damaged_reader_file_is_refused_with_one_line(tmp_path):
    damaged = tmp_path / SHIPPED.name  # same name: the pin applies
    shutil.copy(SHIPPED, damaged)
    with open(damaged, "r+b") as fh:
        fh.seek(-100, os.SEEK_END)
        byte = fh.read(1)
        fh.seek(-100, os.SEEK_END)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match="sha256") as info:
        NeuralReader(damaged).warm_up()
    assert "\n" not in str(info.value)
    env = dict(os.environ, QA_ANSWER__READER_WEIGHTS=str(damaged), HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", "Who shot the officer?", "--index", str(tmp_path / "index")],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert any("sha256" in line and line.startswith("qa: ") for line in proc.stderr.splitlines())


def test_the_reader_extracts_the_name_from_a_passage():
    passage = "Ruslan Zinin, 25, opened fire at the enlistment office in Ust-Ilimsk on Monday, officials said."
    out = NeuralReader().read("Who opened fire at the enlistment office?", [PassageText("x.txt", 40, passage)])
    best = out.spans[0]
    assert "Zinin" in best.text
    assert passage[best.start - 40 : best.end - 40] == best.text
    assert best.margin > 0


@pytest.fixture(scope="module")
def services(tmp_path_factory, real_embedder):
    settings = load_settings(corpus=SEEDS, index_dir=tmp_path_factory.mktemp("index-neural"))
    service = QAService(settings, embedder=real_embedder)
    service.prepare()
    return {"neural": service}


QUESTIONS = [
    "Who shot the recruiting officer?",
    "How old was the shooter?",
    "How many men left Russia after the mobilization?",
    "Who is the Kremlin spokesperson?",
    "How long was the queue at the Georgian border?",
]


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_span_is_the_file_text_at_its_offsets(services, question):
    r = services["neural"].ask(question)
    assert r.answer is None or r.answer.text
    assert_offsets(r)


def test_the_learned_reader_answers_with_the_shooters_name_and_its_sources(services):
    r = services["neural"].ask("Who shot the recruiting officer?")
    assert r.status in ("answered", "tentative") and "Zinin" in r.answer.text  # shown either way, with its citation
    assert r.citations and r.citations[0].value and "Zinin" in r.citations[0].value
    assert r.answer.source.endswith(".txt") and r.answer.sentence
    assert 0 < r.answer.score <= 1 and r.confidence == r.answer.score


def test_a_question_the_corpus_does_not_answer_is_declined(services):
    r = services["neural"].ask("What is the boiling point of liquid nitrogen?")
    assert not r.answered and r.answer is None
    assert r.message == "No answer in the corpus"
