"""The installed commands run the way a person runs them: in a real 80x24 terminal (a pseudo-terminal).

Every other test runs the commands with pipes, where nothing draws a progress display or a
full-screen app; these run ``.venv/bin/qa`` (and ``make chat`` from a fresh clone) with a
pseudo-terminal as stdin, stdout and stderr, type into it, and read what it shows. Each checks
the exit code, the text on the terminal (escape sequences stripped) and that no traceback appears.
The model is real, so one index over a copy of seeds/ is built once and shared.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from terminal_helpers import CTRL_Q, ENTER, ROOT, Terminal, qa_command, run_in_terminal, terminal_env

pytestmark = pytest.mark.slow

QA = qa_command()
QUESTION = "Who is the Kremlin spokesperson?"
ANSWER = "Dmitry Peskov"
BAR = "━"  # rich's bar (and Textual's) is drawn with this character


def progress_shown(term: Terminal, stage: str) -> bool:
    """A rich progress row for ``stage``: its label, a bar, and done/total."""
    return re.search(rf"{stage}\s+[━╸╺ ]+\s+\d+/\d+", term.text) is not None


def assert_clean(term: Terminal, code: int = 0) -> None:
    assert term.returncode == code, f"exit {term.returncode}, expected {code}; terminal tail:\n{term.tail()}"
    assert "Traceback" not in term.text, term.tail(6000)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("terminal") / "corpus"
    shutil.copytree(ROOT / "seeds", corpus)
    return corpus


@pytest.fixture(scope="module")
def first_build(corpus: Path) -> tuple[Path, Terminal]:
    """``qa index`` into an empty index folder, in a terminal: the index every other test here uses."""
    index = corpus.parent / "index"
    term = run_in_terminal([*QA, "index", "--corpus", str(corpus), "--index", str(index)], cwd=corpus.parent)
    return index, term


@pytest.fixture
def index(first_build: tuple[Path, Terminal]) -> Path:
    index, term = first_build
    if term.returncode != 0:
        pytest.fail(f"the shared index was not built (qa index exited {term.returncode}):\n{term.tail()}")
    return index


def test_index_first_build_draws_progress_and_reports(first_build: tuple[Path, Terminal]) -> None:
    _, term = first_build
    assert_clean(term)
    assert "3 files indexed, 0 skipped" in term.text
    assert "no index yet: embedded 3 file(s)" in term.text
    assert progress_shown(term, "embedding"), "no progress display on a terminal:\n" + term.tail()


def test_index_refresh_of_an_unchanged_corpus_is_a_no_op(corpus: Path, index: Path) -> None:
    term = run_in_terminal([*QA, "index", "--corpus", str(corpus), "--index", str(index)], cwd=corpus.parent)
    assert_clean(term)
    assert "3 files indexed" in term.text
    assert "index is up to date: nothing embedded" in term.text


def test_ask_prints_the_cited_answer(corpus: Path, index: Path) -> None:
    term = run_in_terminal([*QA, "ask", QUESTION, "--corpus", str(corpus), "--index", str(index)], cwd=corpus.parent)
    assert_clean(term)
    assert f"Answer: {ANSWER}" in term.text
    assert "002_5a7fdab8de9f5a87.txt, line 42" in term.text  # the citation: file and line
    assert re.search(r"Reported by \d of 3 sources", term.text)


def test_ask_json_on_a_terminal_is_valid_json(corpus: Path, index: Path) -> None:
    argv = [*QA, "ask", QUESTION, "--json", "--corpus", str(corpus), "--index", str(index)]
    term = run_in_terminal(argv, cwd=corpus.parent)
    assert_clean(term)
    shown = term.text
    data = json.loads(shown[shown.index("{") :])  # nothing but the JSON: no progress left behind
    assert data["answered"] is True
    assert data["answer"]["text"] == ANSWER


def test_ask_builds_a_missing_index_with_progress_and_json_redirected(corpus: Path, tmp_path: Path) -> None:
    """``qa ask --json Q > answer.json`` in a terminal: the progress display on the terminal, pure JSON in the file."""
    argv = [*QA, "ask", QUESTION, "--json", "--corpus", str(corpus), "--index", str(tmp_path / "index")]
    term = run_in_terminal(["sh", "-c", 'exec "$@" > answer.json', "sh", *argv], cwd=tmp_path)
    assert_clean(term)
    assert progress_shown(term, "embedding"), "no progress display on a terminal:\n" + term.tail()
    assert json.loads((tmp_path / "answer.json").read_text(encoding="utf-8"))["answer"]["text"] == ANSWER


def test_piped_output_has_no_progress_display(corpus: Path, tmp_path: Path) -> None:
    """The same build with pipes (as in scripts and CI): results only, no bar, no escape sequences."""
    argv = [*QA, "ask", QUESTION, "--json", "--corpus", str(corpus), "--index", str(tmp_path / "index")]
    result = subprocess.run(argv, cwd=tmp_path, env=terminal_env(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["answer"]["text"] == ANSWER
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream and BAR not in stream, stream[-2000:]


@pytest.fixture
def question_set(tmp_path: Path) -> Path:
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    return path


def test_eval_draws_progress_and_prints_the_table(corpus: Path, index: Path, question_set: Path) -> None:
    argv = [*QA, "eval", str(question_set), "--corpus", str(corpus), "--index", str(index)]
    term = run_in_terminal(argv, cwd=question_set.parent)
    assert_clean(term)
    assert progress_shown(term, "questions"), "no progress display on a terminal:\n" + term.tail()
    assert "qa eval" in term.text and "recall@5" in term.text
    assert "3 questions from" in term.text


def chat_round(term: Terminal, *, ready_timeout: float = 120.0) -> None:
    """In an open chat: wait until it is ready, type the question and Enter, see the answer, quit with ctrl+q."""
    term.expect(r"Ask a question about the articles", timeout=30)
    term.expect(r"Ready\.", timeout=ready_timeout)
    mark = len(term.text)
    term.send(QUESTION, per_key=0.005)
    term.send(ENTER)
    term.expect(ANSWER.split()[-1], timeout=60, after=mark)  # the surname: the full name may wrap at 80 columns
    term.send(CTRL_Q)


def test_chat_answers_a_typed_question_and_quits_with_ctrl_q(corpus: Path, index: Path) -> None:
    with Terminal([*QA, "chat", "--corpus", str(corpus), "--index", str(index)], cwd=corpus.parent) as term:
        chat_round(term)
        term.wait(30)
    assert_clean(term)


def test_chat_shows_an_answer_a_possible_answer_and_no_answer(corpus: Path, index: Path) -> None:
    """The three tiers, as a person sees them at 80x24: a confident answer, a low-confidence one
    offered with its citation, and a question the articles do not answer."""
    with Terminal([*QA, "chat", "--corpus", str(corpus), "--index", str(index)], cwd=corpus.parent) as term:
        term.expect(r"Ready\.", timeout=120)
        for question, shown in [
            ("Who is the Kremlin spokesperson?", [r"Peskov"]),
            ("How old was the shooter?", [r"Possible answer"]),
            # two outlets name him: the answer says so, whichever tier it is in
            ("Who shot the military commissioner in Ust-Ilimsk?", [r"Zinin", r"Reported by 2 of 3 sources"]),
            ("What is the weather on Mars?", [r"No answer in the corpus"]),
        ]:
            mark = len(term.text)
            term.send(question, per_key=0.005)
            term.send(ENTER)
            for pattern in shown:
                term.expect(pattern, timeout=60, after=mark)
            term.expect(r"Ready\.", timeout=60, after=mark)
        term.send(CTRL_Q)
        term.wait(30)
    assert_clean(term)


def test_make_chat_from_a_fresh_clone(tmp_path: Path) -> None:
    """The README's first command, from a fresh clone of the committed tree: index built, chat opened, one answer, quit.

    The clone reuses this checkout's installed .venv (installing again would take minutes) with its stamp
    newer than the clone's pyproject.toml, so make installs nothing; PYTHONPATH puts the clone's own
    ``qa`` package first, so the code that runs is the clone's.
    """
    if not (ROOT / ".git").exists() or shutil.which("git") is None or shutil.which("make") is None:
        pytest.skip("needs git, make and a git checkout")
    venv = Path(sys.executable).parent.parent
    if not (venv / ".installed").exists():
        pytest.skip("needs the Makefile's installed .venv")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True, timeout=120)
    (clone / ".venv").symlink_to(venv)
    stamp = (venv / ".installed").stat().st_mtime
    os.utime(clone / "pyproject.toml", (stamp - 60, stamp - 60))
    assert not any(p.name != ".gitignore" for p in (clone / "index").iterdir())

    env = terminal_env(PYTHONPATH=str(clone), MAKEFLAGS=None, MAKELEVEL=None, MFLAGS=None)
    with Terminal(["make", "chat"], cwd=clone, env=env) as term:
        term.expect(r"3 files indexed", timeout=180)
        chat_round(term)
        term.wait(30)
    assert_clean(term)
    assert "pip install" not in term.text
    assert (clone / "index" / "CURRENT").exists()  # the index was built in the clone, not borrowed


def test_chat_without_a_terminal_says_so_instead_of_hanging(corpus: Path, index: Path) -> None:
    argv = [*QA, "chat", "--corpus", str(corpus), "--index", str(index)]
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, env=terminal_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("qa: terminal error: the chat needs an interactive terminal"), result.stderr
    assert "\x1b" not in result.stdout + result.stderr


def test_dumb_terminal_gets_plain_text(corpus: Path, tmp_path: Path) -> None:
    """TERM=dumb (an editor's shell buffer): no escape sequences at all; the chat says why it cannot open."""
    env = terminal_env(TERM="dumb")
    argv = [*QA, "ask", QUESTION, "--corpus", str(corpus), "--index", str(tmp_path / "index")]  # builds
    term = run_in_terminal(argv, cwd=tmp_path, env=env)
    assert_clean(term)
    assert f"Answer: {ANSWER}" in term.text
    assert b"\x1b" not in term.output, term.output[-2000:]

    term = run_in_terminal([*QA, "chat", "--corpus", str(corpus), "--index", str(tmp_path / "index")], env=env)
    assert_clean(term, 2)
    assert "qa: terminal error: TERM=dumb cannot show the chat" in term.text
    assert b"\x1b" not in term.output, term.output[-2000:]


def test_chat_with_no_color_still_answers(corpus: Path, index: Path) -> None:
    env = terminal_env(NO_COLOR="1")
    with Terminal([*QA, "chat", "--corpus", str(corpus), "--index", str(index)], cwd=corpus.parent, env=env) as term:
        chat_round(term)
        term.wait(30)
    assert_clean(term)
