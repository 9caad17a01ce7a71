"""Shared helpers for the reliability tests: generated corpora, hashing-model settings, `qa` subprocesses.

Everything runs with the model-free ``hashing`` embedder and in ``tmp_path`` folders, so the
tests never touch the repository's ``index/`` or ``seeds/`` and never load the real model.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from qa.config import Settings, load_settings, with_updates

ROOT = Path(__file__).resolve().parents[1]
QA_BIN = Path(sys.executable).with_name("qa")

_PEOPLE = ["Maria Lopez", "Ruslan Zinin", "Amina Diallo", "Kenji Sato", "Olga Petrova", "Tom Becker"]
_PLACES = ["Oslo", "Nairobi", "Lima", "Kazan", "Hanoi", "Porto"]
_THINGS = ["the harbour bridge", "a wind farm", "the new library", "the rail link", "a water plant"]
_VERBS = ["opened", "approved", "criticised", "inspected", "funded", "delayed"]

# One fixed fact per corpus, so a question has a definite answer.
FACT = "The mayor of Brightwater is Helena Quist, who was elected in 2019."
FACT_QUESTION = "Who is the mayor of Brightwater?"


def article(rng: random.Random, sentences: int) -> str:
    """A few paragraphs of plausible news prose."""
    paras = []
    for _ in range(max(1, sentences // 5)):
        para = []
        for _ in range(5):
            who, where, what, verb = rng.choice(_PEOPLE), rng.choice(_PLACES), rng.choice(_THINGS), rng.choice(_VERBS)
            n = rng.randint(2, 900)
            para.append(f"{who} {verb} {what} in {where} on day {n}, officials said.")
        paras.append(" ".join(para))
    return "\n\n".join(paras) + "\n"


def make_corpus(folder: Path, files: int = 3, sentences: int = 20, seed: int = 0) -> Path:
    """Write ``files`` generated articles (plus the FACT in the first) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for i in range(files):
        text = article(rng, sentences)
        if i == 0:
            text = FACT + "\n\n" + text
        (folder / f"article_{i:04d}.txt").write_text(text, encoding="utf-8")
    return folder


def hashing_settings(corpus: Path, index_dir: Path, **sections) -> Settings:
    settings = load_settings(corpus=corpus, index_dir=index_dir)
    return with_updates(settings, embedding={"model": "hashing"}, **sections)


def qa_env(**extra: str) -> dict[str, str]:
    """The environment for a `qa` subprocess: no inherited QA_* settings, the hashing model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["QA_EMBEDDING__MODEL"] = "hashing"
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_qa(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed `qa` console script; ``cwd`` is a tmp folder (no stray qa.toml)."""
    return subprocess.run(
        [str(QA_BIN), *args],
        cwd=cwd,
        env=env or qa_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=timeout,
    )


def popen_qa(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(QA_BIN), *args],
        cwd=cwd,
        env=env or qa_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
    )


def assert_one_line_error(stderr: str) -> str:
    """stderr holds exactly one non-empty line starting with 'qa:' and no traceback; return it."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("qa: "), stderr
    return lines[0]


def live_folder(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
