"""`qa eval`: options, reports, floors and SQuAD input, with a fake service; one slow run with the real one."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from qa.cli import build_parser, main
from qa.config import Settings
from qa.eval import command as eval_cli
from qa.models import Answer, BuildReport, CorpusInfo, Passage, Response

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "eval"
MINI = FIXTURES / "mini.jsonl"
SEEDS = ROOT / "seeds"
B, C = "002_5a7fdab8de9f5a87.txt", "003_fe46f044fe634529.txt"
ZININ = "In the attack in the Siberian city of Ust-Ilimsk, 25-year-old resident Ruslan Zinin walked into the office."


def _answer(text: str, sentence: str, source: str) -> Answer:
    return Answer(
        text=text, sentence=sentence, source=source, start=0, end=len(text), line=14, score=0.9,
        sentence_start=0, sentence_end=len(sentence),
    )  # fmt: skip


def _passage(source: str, text: str) -> Passage:
    return Passage(source=source, start=0, end=len(text), line_start=14, line_end=14, score=0.8, text=text)


class FakeService:
    """Answers the mini set: 'zinin' right, 'age' wrong ('Ust-Ilimsk'), 'weapon' declined (right)."""

    def __init__(self, settings: Settings, got: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.got = got or {}
        self.prepared = 0

    def prepare(self, progress=None) -> BuildReport:  # noqa: ANN001
        self.prepared += 1
        if progress is not None:
            progress("files", 1, 1)
        return BuildReport(files_indexed=3, chunks=10, sentences=50)

    def info(self) -> CorpusInfo:
        return CorpusInfo(
            corpus=str(self.settings.corpus), index_dir=str(self.settings.index_dir), files=3, chunks=10,
            sentences=50, model="fake-model",
        )  # fmt: skip

    def ask(self, question: str, history: Sequence[str] = ()) -> Response:
        if question.startswith("What weapon"):
            return Response(question=question, answered=False, message="No answer in the corpus")
        text = "Ruslan Zinin" if question.startswith("Who shot") else "Ust-Ilimsk"
        text = self.got.get(question, text)
        sentence = ZININ if text == "Ruslan Zinin" else f"They spoke of {text} on Monday."
        return Response(
            question=question, answered=True, answer=_answer(text, sentence, B), passages=[_passage(B, ZININ)]
        )


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> list[FakeService]:
    made: list[FakeService] = []

    def make(settings: Settings) -> FakeService:
        made.append(FakeService(settings))
        return made[-1]

    monkeypatch.setattr(eval_cli, "make_service", make)
    return made


def _eval(tmp_path: Path, *extra: str, questions: Path = MINI) -> int:
    return main(["eval", str(questions), "--corpus", str(SEEDS), "--index", str(tmp_path / "index"), *extra])


def test_eval_is_registered_with_every_option() -> None:
    help_text = build_parser()._subparsers._group_actions[0].choices["eval"].format_help()  # type: ignore[union-attr]
    for option in (
        "--corpus", "--index", "--json-out", "--markdown-out", "--min-f1", "--min-recall-at-5", "--min-exact-match",
        "--min-citation-accuracy", "--min-answer-recall", "--min-abstention-recall", "--limit",
    ):  # fmt: skip
        assert option in help_text


def test_json_report(tmp_path: Path, services: list[FakeService], capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports" / "eval.json"
    assert _eval(tmp_path, "--json-out", str(out)) == 0
    (service,) = services
    assert service.prepared == 1
    assert service.settings.retrieval.top_k == 10  # the runner needs 10 passages for recall@10
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["question_set"] == str(MINI) and report["format"] == "jsonl" and report["model"] == "fake-model"
    assert report["corpus"]["files"] == 3 and report["settings"]["retrieval"]["top_k"] == 10
    # zinin: EM 1; age: answered 'Ust-Ilimsk' (0); weapon: declined and unanswerable (1) -> EM 2/3
    assert report["metrics"]["exact_match"] == pytest.approx(2 / 3)
    assert report["metrics"]["recall@5"] == 1.0 and report["metrics"]["abstention_recall"] == 1.0
    assert sorted(report["by_type"]) == ["followup", "multi", "unanswerable"]
    rows = {r["id"]: r for r in report["questions"]}
    assert rows["age"]["got"] == "Ust-Ilimsk" and rows["age"]["source"] == B and rows["age"]["em"] == 0.0
    assert rows["age"]["history"] == ["Who shot the recruiting officer in Irkutsk?"]
    assert rows["weapon"]["answered"] is False and rows["weapon"]["expected"] == []
    stdout = capsys.readouterr().out
    assert "exact_match" in stdout and "recall@5" in stdout
    assert "worst-answered questions" in stdout and "Ust-Ilimsk" in stdout


def test_floors_fail_with_one_line_naming_each(
    tmp_path: Path, services: list[FakeService], capsys: pytest.CaptureFixture[str]
) -> None:
    # f1: zinin 1, age 0, weapon 1 -> 2/3; recall@5 1.0; citation: zinin right, age wrong -> 1/2
    code = _eval(tmp_path, "--min-f1", "0.9", "--min-recall-at-5", "0.9", "--min-citation-accuracy", "0.75")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == ["qa eval: floors not met: f1 0.6667 < 0.9000; citation_accuracy 0.5000 < 0.7500"]
    assert _eval(tmp_path, "--min-f1", "0.6", "--min-exact-match", "0.6", "--min-abstention-recall", "1") == 0


def test_limit_and_markdown(tmp_path: Path, services: list[FakeService]) -> None:
    md = tmp_path / "eval.md"
    json_out = tmp_path / "eval.json"
    assert _eval(tmp_path, "--limit", "2", "--markdown-out", str(md), "--json-out", str(json_out)) == 0
    assert json.loads(json_out.read_text(encoding="utf-8"))["metrics"]["n"] == 2
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# qa eval report") and "| exact_match | 0.500 |" in text
    assert "| age | followup | How old was he? | 25-year-old \\| 25 | Ust-Ilimsk |" in text


def test_corpus_text_is_shown_verbatim_never_as_markup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # no folding inside the cell
    nasty = "[bold red]Zinin[/bold red]\x1b[2J|<b>"
    monkeypatch.setattr(eval_cli, "make_service", lambda s: FakeService(s, {"How old was he?": nasty}))
    md = tmp_path / "eval.md"
    assert _eval(tmp_path, "--markdown-out", str(md)) == 0
    stdout = capsys.readouterr().out
    assert "[bold red]Zinin[/bold red]" in stdout and "\\x1b[2J" in stdout and "\x1b[2J" not in stdout
    assert "\\[bold red\\]Zinin\\[/bold red\\]\\\\x1b\\[2J\\|\\<b\\>" in md.read_text(encoding="utf-8")


def test_malformed_question_set_is_one_line_and_exit_2(
    tmp_path: Path, services: list[FakeService], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "questions.jsonl"
    bad.write_text(MINI.read_text(encoding="utf-8") + '{"id": "x", "question": "Q?", "answers": []}\n', encoding="utf-8")
    assert _eval(tmp_path, questions=bad) == 2
    assert capsys.readouterr().err.strip() == f"qa: eval error: {bad}:4: sources: Field required"
    assert services == []  # nothing loaded


def test_sources_missing_from_the_corpus_are_an_error(
    tmp_path: Path, services: list[FakeService], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(MINI), "--corpus", str(FIXTURES), "--index", str(tmp_path / "i")]) == 2
    assert "sources not found in corpus" in capsys.readouterr().err


def test_squad_input_builds_a_cached_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, services: list[FakeService], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "squad.json"
    assert main(["eval", str(FIXTURES / "squad-v2.json"), "--corpus", "ignored", "--json-out", str(out)]) == 0
    assert "--corpus is ignored for SQuAD input" in capsys.readouterr().err
    (service,) = services
    cache = service.settings.corpus.parent
    assert cache.parent == Path(".qa-cache") and cache.name.startswith("squad-") and len(cache.name) == 18
    assert service.settings.index_dir == cache / "index"
    assert sorted(p.name for p in (tmp_path / cache / "corpus").iterdir()) == ["ust-ilimsk-city-2.txt", "ust-ilimsk-city.txt"]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["format"] == "squad" and report["metrics"]["n"] == 4 and report["metrics"]["n_answerable"] == 3
    assert report["questions"][0]["expected_spans"][0] == {
        "source": "ust-ilimsk-city.txt", "start": 24, "end": 38, "text": "Irkutsk Oblast",
    }  # fmt: skip


def test_squad_input_honours_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, services: list[FakeService]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(FIXTURES / "squad-v1.json"), "--index", "elsewhere"]) == 0
    assert services[0].settings.index_dir == Path("elsewhere")


@pytest.mark.parametrize("option", [["--min-f1", "1.5"], ["--limit", "0"], ["--min-recall-at-5", "x"]])
def test_bad_option_values_are_rejected(option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["eval", str(MINI), *option])
    assert exc.value.code == 2


def test_progress_view_draws_on_a_terminal() -> None:
    from rich.console import Console

    buffer = io.StringIO()
    with eval_cli._ProgressView(Console(file=buffer, force_terminal=True)) as view:
        view.stage("[red]files", 1, 2)
        view.questions(2, 2)
    assert "questions" in buffer.getvalue() and "[red]files" in buffer.getvalue()
    quiet = io.StringIO()
    with eval_cli._ProgressView(Console(file=quiet, force_terminal=False)) as view:
        view.questions(1, 1)
    assert quiet.getvalue() == ""


@pytest.mark.slow
def test_seed_question_set_with_the_real_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end: the real QAService over the seeds (fails, not skips, if qa.service.QAService is missing)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "seeds.json"
    code = main(["eval", str(ROOT / "eval" / "questions.jsonl"), "--corpus", str(SEEDS),
                 "--index", str(tmp_path / "index"), "--json-out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    report = json.loads(out.read_text(encoding="utf-8"))
    m = report["metrics"]
    assert m["n"] == len(report["questions"]) >= 60
    assert m["recall@1"] <= m["recall@5"] <= m["recall@10"]
    assert m["recall@10"] >= 0.5  # three short articles: the gold passage is almost always in the top 10
    assert any(q["em"] == 1.0 and q["answered"] for q in report["questions"])
    assert report["settings"]["retrieval"]["top_k"] >= 10 and report["corpus"]["files"] == 3
