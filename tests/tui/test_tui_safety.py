"""Corpus and user text is shown (and exported) as the characters it is: no markup, no terminal escapes."""

from __future__ import annotations

import re
from pathlib import Path

from fake_service import EVIL_FILE, FakeService, respond
from tui_helpers import ask, screen_text, settle

from qa.tui.app import QAApp
from qa.tui.export import md, quote, to_markdown
from qa.tui.screens import SourceScreen
from qa.tui.widgets import AnswerCard, QuestionBubble, SourceLink

SIZE = (160, 40)
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


async def test_markup_and_escapes_in_the_corpus_are_shown_literally(app: QAApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "What is the code word?")

        text = screen_text(app)
        assert "[@click=app.quit]quit[/]" in text  # the answer value, as typed in the file
        assert "The code word is [bold]red[/bold] [@click=app.quit]quit[/] [link=file:///etc/passwd]pw[/link]" in text
        assert "\\x1b[2J\\x1b]52;c;aGVsbG8=\\x07\\x1b]8;;http://evil.example\\x1b\\here" in text
        assert not RAW_CONTROL.search(text)
        assert "evil[bold].txt, line 2" in text

        await pilot.click("AnswerCard .value")  # clicking the "[@click=app.quit]" text does nothing
        await pilot.pause()
        assert app.is_running and app.return_code is None

        app.screen.query_one("ChatLog SourceLink", SourceLink).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SourceScreen)
        text = screen_text(app)
        assert "evil[bold].txt — line 2" in text
        assert "[link=file:///etc/passwd]pw[/link]" in text
        assert "\\x1b[2J\\x1b]52;c;aGVsbG8=\\x07" in text
        assert not RAW_CONTROL.search(text)


async def test_markup_and_escapes_in_a_question_are_shown_literally(app: QAApp, fake: FakeService) -> None:
    question = "[@click=app.quit]why[/] [bold]x[/bold] [link=file:///etc/passwd]y[/link] \x1b[2J \x1b]52;c;aGk=\x07 end"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, question)

        assert fake.asked == [(question, ())]  # the service gets the question as typed
        text = screen_text(app)
        shown = question.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
        assert f"You  {shown}" in text
        assert not RAW_CONTROL.search(text)
        await pilot.click(QuestionBubble, offset=(8, 0))
        await pilot.pause()
        assert app.is_running and app.return_code is None
        assert app.screen.query_one(AnswerCard).has_class("-no-answer")


async def test_export_writes_answers_with_citations_and_no_raw_escapes(app: QAApp, tmp_path: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "Who shot the officer?")
        await ask(pilot, "What is the code word? \x1b[2J")
        await pilot.press("ctrl+s")
        await pilot.pause()

        [path] = tmp_path.glob("qa-chat-*.md")
        assert re.fullmatch(r"qa-chat-\d{8}-\d{6}\.md", path.name)
        assert any(str(path) in n.message for n in app._notifications)
    data = path.read_text(encoding="utf-8")
    assert "**Answer:** Ruslan Zinin" in data
    assert "- 002\\_5a7fdab8de9f5a87.txt, line 14: “In the attack" in data
    assert "Reported by 2 of 3 sources." in data
    assert "**Answer:** \\[@click=app.quit\\]quit\\[/\\]" in data
    assert "What is the code word? \\\\x1b\\[2J" in data
    assert not RAW_CONTROL.search(data)
    unescaped = re.sub(r"\\.", "", data)  # what is left once every backslash escape is taken out
    assert not re.search(r"[\[\]<>`]", re.sub(r"(?m)^>", "", unescaped))  # only quote markers


def test_markdown_escaping_blocks_injection() -> None:
    assert md("[x](javascript:alert(1)) <img src=x> `code` *a* # h\n- item") == (
        "\\[x\\]\\(javascript:alert\\(1\\)\\) \\<img src=x\\> \\`code\\` \\*a\\* \\# h - item"
    )
    assert md("- not a list") == "\\- not a list"
    assert md("12. not a list either") == "12\\. not a list either"
    assert quote("line one\n# not a heading\n  + nor a list\n\x1b]8;;x\x07") == (
        "> line one\n> \\# not a heading\n>   \\+ nor a list\n> \\\\x1b\\]8;;x\\\\x07"
    )


def test_markdown_lists_conflicts_and_no_answer_passages() -> None:
    from datetime import datetime

    responses = [respond("How many men left Russia?"), respond("What is the weather on Mars?")]
    data = to_markdown(responses, None, datetime(2026, 1, 2, 3, 4, 5))
    assert "Exported 2026-01-02 03:04:05." in data
    assert "- “261,000”: 000\\_1e59f56b4bd2b559.txt" in data
    assert "- “more than 260,000”: 003\\_fe46f044fe634529.txt" in data
    assert "**No answer in the corpus**" in data
    assert "- 003\\_fe46f044fe634529.txt, line 25 (score 0.22): “Mobile phone footage" in data
    assert EVIL_FILE not in data
