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


@pytest.fixture(scope="session")
def real_embedder():
    """The packaged all-MiniLM-L6-v2 as the default settings run it (onnxruntime, int8), loaded once per session."""
    from qa.config import EmbeddingSettings
    from qa.runtime.embedder import make_embedder

    embedder = make_embedder(EmbeddingSettings())
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="session")
def seed_service(tmp_path_factory, real_embedder):
    """A QAService over the seeds with the real model (index in a temporary folder)."""
    from qa.service import QAService

    index_dir = tmp_path_factory.mktemp("seed-index")
    service = QAService(load_settings(corpus=SEEDS, index_dir=index_dir), embedder=real_embedder)
    service.prepare()
    return service
