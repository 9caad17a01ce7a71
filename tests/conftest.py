"""Shared fixtures: small corpora and settings that use the model-free hashing embedder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.config import Settings, load_settings, with_updates

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


def hashing_settings(corpus: Path, index_dir: Path, **sections) -> Settings:
    return with_updates(load_settings(corpus=corpus, index_dir=index_dir), embedding={"model": "hashing"}, **sections)


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    """A private copy of the seed articles (tests may edit it)."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    return corpus


@pytest.fixture
def hashing(tmp_path: Path, seed_corpus: Path) -> Settings:
    return hashing_settings(seed_corpus, tmp_path / "index")
