from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import load_settings
from qa.errors import ConfigError


def test_defaults(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.corpus == Path("seeds") and s.index_dir == Path("index")
    assert s.embedding.model == "default" and s.retrieval.top_k == 5


def test_environment_and_toml(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qa.toml").write_text('corpus = "articles"\n[retrieval]\ntop_k = 7\n')
    monkeypatch.setenv("QA_EMBEDDING__MODEL", "hashing")
    s = load_settings()
    assert s.corpus == Path("articles") and s.retrieval.top_k == 7 and s.embedding.model == "hashing"
    monkeypatch.setenv("QA_CORPUS", "other")
    assert load_settings().corpus == Path("other")
    assert load_settings(corpus="cli").corpus == Path("cli")


def test_unknown_toml_key_is_rejected(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qa.toml").write_text("[retrieval]\ntop_kk = 7\n")
    with pytest.raises(ConfigError, match="retrieval.top_kk"):
        load_settings()


def test_bad_value_is_one_line(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QA_RETRIEVAL__TOP_K", "0")
    with pytest.raises(ConfigError, match="retrieval.top_k") as err:
        load_settings()
    assert "\n" not in str(err.value)
