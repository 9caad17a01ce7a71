"""Untrusted input: odd questions, hostile text in the corpus and in questions, code in data, no network.

- Questions (library and `qa ask`): empty, blank, huge, control characters, NUL, right-to-left,
  emoji, only stopwords, invalid Unicode: a clear QuestionError or a sensible Response, never a crash.
- Hostile text (Rich/Textual markup, ANSI/OSC escapes) in articles, file names and questions is
  printed as text by `qa ask` (plain and --json: no raw ESC/BEL byte) and in the Markdown export
  of the chat; nothing is interpreted.
- No code execution from data: the package never unpickles or evals (source scan + runtime check).
- Offline: the packaged model loads without a network and without HF_HUB_OFFLINE.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers_reliability import (
    FACT_QUESTION,
    ROOT,
    assert_one_line_error,
    hashing_settings,
    make_corpus,
    qa_env,
    run_qa,
)

from qa.errors import QuestionError
from qa.models import Response
from qa.service import QAService

# --- questions -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> QAService:
    base = tmp_path_factory.mktemp("input")
    make_corpus(base / "corpus", files=3, sentences=20, seed=5)
    service = QAService(hashing_settings(base / "corpus", base / "index"))
    service.prepare()
    return service


@pytest.mark.parametrize(
    "question,message",
    [
        ("", r"^empty question: type a question about the articles$"),
        ("   \n\t  ", r"^empty question"),
        ("\x00\x00\x00", r"^empty question"),
        ("\x1b[2J\x07\x08", r"^empty question"),  # a terminal escape sequence and controls: nothing to answer
        ("?!? ... ???", r"^the question has no words in it$"),
        ("\U0001F525\U0001F914\U0001F680", r"^the question has no words in it$"),
        (None, r"^the question must be text$"),
        (b"Who is the mayor?", r"^the question must be text$"),
    ],
    ids=["empty", "whitespace", "nul", "escape-sequence", "punctuation", "only-emoji", "none", "bytes"],
)
def test_unusable_questions_raise_one_clear_question_error(service, question, message):
    with pytest.raises(QuestionError, match=message) as caught:
        service.ask(question)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "question",
    [
        "Who\x00 is the mayor\x07 of\x1b[2J Brightwater?",
        "Who is the mayor of Brightwater? \U0001F914\U0001F3DB\ufe0f",
        "  Who   is\tthe\nmayor of Brightwater?  ",
        "\u202eWho is the mayor of Brightwater?\u202c",
        "Who is the mayor of Brightwater?\r\n\x85\u2028",
    ],
    ids=["control-chars", "emoji", "spacing", "bidi-override", "line-separators"],
)
def test_noisy_questions_still_get_the_answer(service, question):
    response = service.ask(question)
    assert response.question == question  # shown back as typed; cleaned only for retrieval
    assert response.answer is not None and response.answer.text == "Helena Quist"


@pytest.mark.parametrize(
    "question",
    [
        "من هو عمدة برايتووتر؟",  # right-to-left (Arabic)
        "מי ראש העיר של ברייטווטר?",  # right-to-left (Hebrew)
        "ברייטווטר mayor מי?",  # mixed direction
        "what is the of and to it was",  # only stopwords
        "the the the the",
        "x",
        "\u00e9" * 50,
        "Who is the mayor \ud800\udfff of Brightwater?",  # lone surrogates (undecodable argv bytes)
    ],
    ids=[
        "arabic", "hebrew", "mixed-direction", "stopwords", "repeated-stopword", "one-letter", "accents",
        "surrogates",
    ],
)
def test_odd_questions_get_a_response_not_a_crash(service, question):
    response = service.ask(question)
    assert isinstance(response, Response)
    if response.status == "declined":
        assert response.answer is None and response.message == "No answer in the corpus"
    else:  # answered, or offered tentatively: either way a cited answer is shown
        assert response.answer is not None and response.citations
    json.loads(response.model_dump_json())  # serialisable: --json and the eval report can print it


def test_a_100k_character_question_is_truncated_with_a_notice(service):
    question = "Who is the mayor of Brightwater? " + "lorem ipsum dolor " * 6000
    question = question[:100_000]
    start = time.perf_counter()
    response = service.ask(question)
    assert time.perf_counter() - start < 10
    assert len(response.notices) == 1
    assert re.fullmatch(r"question truncated to its first 2000 of \d+ characters", response.notices[0])
    assert response.question == question


def test_history_with_hostile_entries_is_harmless(service):
    history = ["", "\x00", "x" * 100_000, "\x1b]52;c;aGk=\x07", FACT_QUESTION]
    response = service.ask("Where was she elected?", history)
    assert isinstance(response, Response)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["", "   ", "\t\n"], ids=["empty", "spaces", "tab-newline"])
def test_qa_ask_empty_question_exits_2_with_one_line(tmp_path, question):
    corpus = make_corpus(tmp_path / "corpus", files=1, sentences=5)
    done = run_qa("ask", question, "--corpus", str(corpus), "--index", str(tmp_path / "index"), cwd=tmp_path)
    assert done.returncode == 2
    line = assert_one_line_error(done.stderr)
    assert line == "qa: question error: empty question: type a question about the articles"
    assert done.stdout == ""
    assert not (tmp_path / "index").exists()  # rejected before any model or index work


@pytest.fixture(scope="module")
def cli_corpus(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("cli")
    corpus = make_corpus(base / "corpus", files=3, sentences=20, seed=6)
    done = run_qa("index", "--corpus", str(corpus), "--index", str(base / "index"), cwd=base)
    assert done.returncode == 0, done.stderr
    return corpus, base / "index"


@pytest.mark.slow
def test_qa_ask_long_question_prints_the_truncation_notice(cli_corpus, tmp_path):
    corpus, index_dir = cli_corpus
    question = (FACT_QUESTION + " ") + "z" * (100_000 - len(FACT_QUESTION) - 1)
    done = run_qa("ask", question, "--corpus", str(corpus), "--index", str(index_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "note: question truncated to its first 2000 of 100000 characters"


@pytest.mark.slow
def test_qa_ask_with_undecodable_argument_bytes(cli_corpus, tmp_path):
    """A question that is not valid UTF-8 on the command line (surrogate-escaped by Python)."""
    corpus, index_dir = cli_corpus
    for extra in ((), ("--json",)):
        done = subprocess.run(
            [str(Path(sys.executable).with_name("qa")).encode(), b"ask",
             b"Who is the mayor \xff\xfe of Brightwater?", *[e.encode() for e in extra],
             b"--corpus", bytes(corpus), b"--index", bytes(index_dir)],
            cwd=tmp_path, env=qa_env(), capture_output=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        assert b"Traceback" not in done.stderr
        out = done.stdout.decode("utf-8")  # what qa prints is valid UTF-8
        if extra:
            assert json.loads(out)["answer"]["text"] == "Helena Quist"
        else:
            assert out.startswith("Answer: Helena Quist")


# --- hostile text ----------------------------------------------------------------------------

MARKUP = "[bold]really[/bold] [@click=app.quit]quit[/] [link=file:///etc/passwd]pw[/link]"
ESCAPES = "\x1b[2J\x1b]52;c;aGVsbG8=\x07 \x1b]8;;http://evil.example\x1b\\here\x1b]8;;\x1b\\ \x9b31m"
HOSTILE_SENTENCE = f"The mayor of Brightwater is Helena Quist {MARKUP} {ESCAPES} end."
HOSTILE_NAME = "evil\x1b[31m[bold]\x07.txt"
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what may never reach a terminal raw


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("hostile")
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / HOSTILE_NAME).write_text(f"{HOSTILE_SENTENCE}\n\nThe harbour reopened on Monday after repairs.\n")
    (corpus / "plain.txt").write_text("The ferry to Inishbeg leaves at seven. Tickets cost twelve euro.\n")
    return corpus, base / "index"


def _ask(hostile, tmp_path, *args, env=None):
    corpus, index_dir = hostile
    done = run_qa("ask", *args, "--corpus", str(corpus), "--index", str(index_dir), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


@pytest.mark.slow
def test_qa_ask_prints_hostile_corpus_text_literally(hostile, tmp_path):
    done = _ask(hostile, tmp_path, FACT_QUESTION)
    out = done.stdout
    assert not RAW_CONTROL.search(out + done.stderr), repr(out)
    assert out.startswith("Answer: Helena Quist")
    assert MARKUP in out  # markup is printed as the characters it is
    assert "\\x1b[2J\\x1b]52;c;aGVsbG8=\\x07" in out  # escapes shown, not sent
    assert "evil\\x1b[31m[bold]\\x07.txt" in out


@pytest.mark.slow
def test_qa_ask_no_answer_passages_escape_file_names(hostile, tmp_path):
    """With answers withheld, the closest passages are listed: their file names are escaped too."""
    done = _ask(hostile, tmp_path, FACT_QUESTION, env=qa_env(QA_ANSWER__MIN_SCORE="1.0", QA_ANSWER__TENTATIVE_MIN_SCORE="1.0"))
    assert done.stdout.startswith("No answer in the corpus.\nClosest passages:")
    assert not RAW_CONTROL.search(done.stdout), repr(done.stdout)
    assert "evil\\x1b[31m[bold]\\x07.txt:" in done.stdout


@pytest.mark.slow
def test_qa_ask_json_keeps_text_verbatim_but_sends_no_escape_bytes(hostile, tmp_path):
    question = f"Who is the mayor of Brightwater? {MARKUP} \x1b]8;;http://x\x1b\\ \x9b2J \u202e"
    done = _ask(hostile, tmp_path, question, "--json")
    assert not RAW_CONTROL.search(done.stdout), repr(done.stdout)  # C1 (U+009B) and bidi overrides too
    data = json.loads(done.stdout)
    assert data["question"] == question  # verbatim data, escaped by JSON
    assert data["answer"]["sentence"] == HOSTILE_SENTENCE
    assert data["answer"]["source"] == HOSTILE_NAME


def test_one_line_errors_escape_hostile_file_names(tmp_path):
    """An error message that names a corpus file (here: the only file is empty) is printed escaped."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / HOSTILE_NAME).write_bytes(b"")
    done = run_qa("index", "--corpus", str(corpus), "--index", str(tmp_path / "index"), cwd=tmp_path)
    assert done.returncode == 1
    line = assert_one_line_error(done.stderr)
    assert not RAW_CONTROL.search(done.stderr), repr(done.stderr)
    assert "evil\\x1b[31m[bold]\\x07.txt: empty file" in line


def _markdown_is_inert(text: str) -> None:
    """No terminal escapes; no Markdown link, image, HTML or autolink can start from corpus text."""
    assert not RAW_CONTROL.search(text), repr(text)
    assert "[link=file:///etc/passwd]" not in text  # every bracket is backslash-escaped
    assert re.search(r"(?<!\\)\[", text.split("\n", 3)[-1]) is None
    assert re.search(r"(?<!\\)<", text) is None
    assert "](" not in text


async def test_markdown_export_of_a_real_chat_is_inert(hostile, tmp_path):
    """The chat (real service, hashing model) over the hostile corpus, exported with ctrl+s."""
    pytest.importorskip("textual")
    from qa.tui.app import create_app

    corpus, _ = hostile
    settings = hashing_settings(corpus, tmp_path / "index")
    export_dir = tmp_path / "export"
    export_dir.mkdir()
    app = create_app(settings, export_dir=export_dir)
    question = f"Who is the mayor of Brightwater? {MARKUP} \x1b]52;c;aGk=\x07"
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot)
        field = app.screen.query_one("#question")
        field.value = question
        await pilot.press("enter")
        await _settle(pilot)
        await pilot.press("ctrl+s")
        await _settle(pilot)
        assert app.is_running and app.return_code is None
    [exported] = list(export_dir.glob("qa-chat-*.md"))
    text = exported.read_text(encoding="utf-8")
    _markdown_is_inert(text)
    assert "Helena Quist" in text
    assert "evil\\\\x1b\\[31m\\[bold\\]\\\\x07.txt" in text  # the file name, every character visible
    unescaped = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)  # what a Markdown viewer shows
    assert MARKUP in unescaped


def test_markdown_export_function_escapes_every_field(service):
    from datetime import datetime

    from qa.models import Answer, Citation, CorpusInfo, Passage
    from qa.tui.export import to_markdown

    evil = f"{MARKUP} {ESCAPES} <script>alert(1)</script> ![x](http://e/x.png) `code` # head"
    cite = Citation(source=HOSTILE_NAME, start=0, end=len(evil), line_start=1, line_end=1, text=evil)
    answered = Response(
        question=evil, answered=True, citations=[cite], message=evil, notices=[evil],
        answer=Answer(text=evil, sentence=evil, source=HOSTILE_NAME, start=0, end=len(evil), line=1,
                      score=0.9, sentence_start=0, sentence_end=len(evil)),
        total_sources=1, supporting_sources=1,
    )
    unanswered = Response(
        question=evil, answered=False, message=evil,
        passages=[Passage(source=HOSTILE_NAME, start=0, end=1, line_start=1, line_end=1, score=0.1, text=evil)],
    )
    info = CorpusInfo(corpus=evil, index_dir="i", files=1, chunks=1, sentences=1, model=evil)
    _markdown_is_inert(to_markdown([answered, unanswered], info, datetime(2024, 1, 1)))


async def _settle(pilot, rounds: int = 200) -> None:
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            await pilot.pause()
            return
    raise AssertionError("workers kept running")


# --- no code execution from data -------------------------------------------------------------

PACKAGE = ROOT / "qa"
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal", "pandas"}


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _is_true(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def scan_source(source: str, name: str) -> list[str]:
    """Ways this source could run code from data: pickle, eval/exec, pickle-enabled loaders."""
    problems = []
    tree = ast.parse(source, name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad = [a.name for a in node.names if a.name.split(".")[0] in PICKLE_MODULES]
        elif isinstance(node, ast.ImportFrom):
            bad = [node.module] if (node.module or "").split(".")[0] in PICKLE_MODULES else []
        else:
            bad = []
        problems += [f"{name}:{node.lineno}: imports {b}" for b in bad]
    for call in _calls(tree):
        func = _dotted(call.func)
        where = f"{name}:{call.lineno}"
        if func in ("eval", "exec", "compile", "__import__", "builtins.eval", "builtins.exec"):
            problems.append(f"{where}: calls {func}()")
        if _is_true(_keyword(call, "allow_pickle")):
            problems.append(f"{where}: {func}(allow_pickle=True)")
        if _is_true(_keyword(call, "trust_remote_code")):
            problems.append(f"{where}: {func}(trust_remote_code=True)")
        if func.endswith("torch.load") and not _is_true(_keyword(call, "weights_only")):
            problems.append(f"{where}: torch.load without weights_only=True")
        if func in ("yaml.load", "yaml.unsafe_load", "yaml.full_load", "pd.read_pickle", "pandas.read_pickle"):
            problems.append(f"{where}: {func}()")
    return problems


def test_scanner_finds_what_it_looks_for():
    bad = """
import pickle
from joblib import load
import numpy as np, torch, yaml
eval("1"); exec("x=1")
np.load("f.npy", allow_pickle=True)
torch.load("m.bin")
yaml.load(open("c.yml"))
AutoModel.from_pretrained("x", trust_remote_code=True)
"""
    problems = scan_source(bad, "bad.py")
    assert len(problems) == 8, problems
    good = """
import numpy as np, torch, yaml
model.eval()
np.load("f.npy", allow_pickle=False)
torch.load("m.bin", weights_only=True)
yaml.safe_load("a: 1")
re.compile("x")
"""
    assert scan_source(good, "good.py") == []


def test_package_never_unpickles_or_evals():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    problems = [p for f in files for p in scan_source(f.read_text(encoding="utf-8"), str(f.relative_to(ROOT)))]
    assert problems == []


def test_loading_an_index_a_config_and_a_question_set_never_unpickles(service, tmp_path, monkeypatch):
    """At run time, with every unpickling entry point booby-trapped, the loaders still work."""
    from qa.config import load_settings
    from qa.eval.evaluate import load_questions
    from qa.index import folder as store

    def trap(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    class TrapUnpickler:
        def __init__(self, *args, **kwargs):
            trap()

    for name in ("load", "loads"):
        monkeypatch.setattr(pickle, name, trap)
    monkeypatch.setattr(pickle, "Unpickler", TrapUnpickler)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qa.toml").write_text('corpus = "articles"\n[retrieval]\ntop_k = 3\n')

    loaded = store.load_build(store.current_build(service.settings.index_dir))
    assert loaded.chunks and loaded.bm25.n_docs == len(loaded.chunks)
    assert load_settings().retrieval.top_k == 3
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "q1", "question": FACT_QUESTION, "answers": ["Helena Quist"],
                                     "sources": ["article_0000.txt"]}) + "\n")
    assert load_questions(questions).questions[0].id == "q1"
    fresh = QAService(service.settings)
    assert fresh.ask(FACT_QUESTION).answer.text == "Helena Quist"


# --- offline ---------------------------------------------------------------------------------


OFFLINE_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from qa.runtime.embedder import SentenceTransformerEmbedder
embedder = SentenceTransformerEmbedder()
embedder.warm_up()
vectors = embedder.encode(["Who is the mayor of Brightwater?", "Helena Quist"], 2)
print(json.dumps({"seconds": time.perf_counter() - t0, "shape": list(vectors.shape),
                  "fingerprint": embedder.fingerprint()}))
"""


@pytest.mark.slow
def test_default_model_loads_offline_without_hf_hub_offline(tmp_path):
    """No network, HF_HUB_OFFLINE unset: the packaged model loads and encodes without waiting on timeouts.

    The proxy is a local socket that accepts connections and never answers (a black hole: any
    request would hang until its timeout) and a closed port for plain HTTP.
    """
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(64)
    port = black_hole.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env |= {
        "HTTPS_PROXY": f"http://127.0.0.1:{port}", "https_proxy": f"http://127.0.0.1:{port}",
        "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
        "NO_PROXY": "", "no_proxy": "",
        "HF_HOME": str(tmp_path / "hf-home"),  # an empty cache: nothing to fall back on
    }
    try:
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - start
    finally:
        black_hole.close()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["shape"] == [2, 384]
    assert result["fingerprint"] == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    # One hub request against the black hole waits >= 10 s (huggingface_hub's timeout) and a load makes
    # several (a hub model name here takes over a minute); loading from the package takes a few seconds
    # (more on a busy machine).
    assert result["seconds"] < 30, (elapsed, result)
