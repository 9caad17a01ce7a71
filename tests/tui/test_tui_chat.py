"""Asking, answering, failing and the conversation's history, driven through the pilot."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from fake_service import FakeService
from tui_helpers import ask, screen_text, settle

from qa.config import Settings
from qa.errors import IndexCorruptError, ModelError
from qa.tui.app import QAApp, create_app
from qa.tui.render import HIGHLIGHT
from qa.tui.widgets import AnswerCard, ErrorLine, QuestionInput, StatusBar

SIZE = (120, 40)


async def test_answer_shows_span_in_sentence_with_citations(app: QAApp, fake: FakeService) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click("#question")
        await pilot.press(*"Who shot the officer?", "enter")
        await settle(pilot)

        text = screen_text(app)
        assert "Ruslan Zinin" in text
        assert "002_5a7fdab8de9f5a87.txt, line 14" in text
        assert "003_fe46f044fe634529.txt, line 25" in text
        assert "Reported by 2 of 3 sources" in text
        sentence = app.screen.query_one("AnswerCard .sentence").content
        spans = [sentence.plain[s.start : s.end] for s in sentence.spans if s.style == HIGHLIGHT]
        assert spans == ["Ruslan Zinin"]
        assert fake.asked == [("Who shot the officer?", ())]
        assert app.screen.query_one(QuestionInput).value == ""


async def test_no_answer_is_a_different_state_with_closest_passages(app: QAApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "What is the weather on Mars?")

        card = app.screen.query_one(AnswerCard)
        assert card.has_class("-no-answer") and not card.has_class("-answered")
        assert card.border_title == "No answer"
        text = screen_text(app)
        assert "No answer in the corpus" in text
        assert "Closest passages:" in text
        assert "1. 003_fe46f044fe634529.txt, line 25  score 0.22" in text
        assert "Reported by" not in text


async def test_a_low_confidence_answer_is_shown_as_tentative_with_its_citation(app: QAApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "How old was the shooter?")

        card = app.screen.query_one(AnswerCard)
        assert card.has_class("-tentative") and not card.has_class("-answered") and not card.has_class("-no-answer")
        assert card.border_title == "Possible answer"
        text = screen_text(app)
        assert "Possible answer — low confidence" in text
        assert "003_fe46f044fe634529.txt, line 25" in text
        assert "No answer in the corpus" not in text
        sentence = app.screen.query_one("AnswerCard .sentence").content
        assert [sentence.plain[s.start : s.end] for s in sentence.spans if s.style == HIGHLIGHT] == ["25-year-old"]


async def test_notices_are_shown(app: QAApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "What is the weather on Mars? " * 4)
        assert "⚠ Question truncated to 60 characters" in screen_text(app)


async def test_conflicting_sources_are_shown_plainly(app: QAApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "How many men left Russia?")

        text = screen_text(app)
        assert "Sources disagree:" in text
        assert "“261,000” — 000_1e59f56b4bd2b559.txt" in text
        assert "“more than 260,000” — 003_fe46f044fe634529.txt" in text
        assert "Reported by 1 of 3 sources" in text


async def test_ask_error_is_a_message_and_the_question_returns(make_app: Callable[[FakeService], QAApp]) -> None:
    fake = FakeService(ask_errors=[ModelError("the model could not be loaded")])
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "Who shot the officer?")

        assert "⚠ Model error: the model could not be loaded" in screen_text(app)
        assert app.screen.query_one(QuestionInput).value == "Who shot the officer?"
        assert not app.screen.query(AnswerCard)
        assert any(n.severity == "error" for n in app._notifications)

        await pilot.press("enter")  # the restored question can be sent again
        await settle(pilot)
        assert "Ruslan Zinin" in screen_text(app)
        assert [history for _, history in fake.asked] == [(), ()]  # a failed question is not history


async def test_unexpected_worker_error_is_one_line_not_a_crash(make_app: Callable[[FakeService], QAApp]) -> None:
    app = make_app(FakeService(ask_errors=[RuntimeError("boom\nwith a second line")]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "Who shot the officer?")

        assert app.is_running
        line = app.screen.query_one(ErrorLine)
        assert str(line.content) == "⚠ Unexpected error: RuntimeError: boom with a second line"
        assert app.screen.query_one(QuestionInput).value == "Who shot the officer?"


async def test_prepare_error_is_shown_and_rebuild_recovers(make_app: Callable[[FakeService], QAApp]) -> None:
    fake = FakeService(prepare_error=IndexCorruptError("the index is damaged; rebuild it"))
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Index error: the index is damaged; rebuild it" in screen_text(app)
        assert app.screen.query_one(StatusBar).has_class("-error")

        await ask(pilot, "Who shot the officer?")
        assert "⚠ Not answered" in screen_text(app)
        assert app.screen.query_one(QuestionInput).value == "Who shot the officer?"
        assert fake.asked == []

        await app.screen.run_action("rebuild")
        await settle(pilot)
        assert fake.rebuilds == 1
        assert "Ready." in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert "Ruslan Zinin" in screen_text(app)


async def test_question_typed_before_prepare_finishes_is_answered_when_ready(
    make_app: Callable[[FakeService], QAApp],
) -> None:
    gate = threading.Event()
    fake = FakeService(gate=gate)
    app = make_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"Who shot the officer?", "enter")
        await pilot.pause()
        assert fake.asked == []
        assert "1 question(s) waiting" in screen_text(app)
        assert "You  Who shot the officer?" in screen_text(app)

        gate.set()
        await settle(pilot)
        assert fake.asked == [("Who shot the officer?", ())]
        assert "Ruslan Zinin" in screen_text(app)
        assert "seeds · 3 files · 14 chunks · model fake-model" in screen_text(app)


async def test_up_and_down_recall_earlier_questions(app: QAApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "Who shot the officer?")
        await ask(pilot, "How many men left Russia?")
        field = app.screen.query_one(QuestionInput)
        field.value = "draft"

        await pilot.press("up")
        assert field.value == "How many men left Russia?"
        await pilot.press("up", "up")
        assert field.value == "Who shot the officer?"
        await pilot.press("down")
        assert field.value == "How many men left Russia?"
        await pilot.press("down")
        assert field.value == "draft"


async def test_follow_ups_get_the_history_and_new_chat_clears_it(app: QAApp, fake: FakeService) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "Who shot the officer?")
        await ask(pilot, "What was his name?")
        assert fake.asked[-1] == ("What was his name?", ("Who shot the officer?",))

        await pilot.press("ctrl+n")
        await settle(pilot)
        assert not app.screen.query(AnswerCard)
        await ask(pilot, "What was his name?")
        assert fake.asked[-1] == ("What was his name?", ())
        assert len(app.screen.query(AnswerCard)) == 1


async def test_palette_offers_the_chat_commands(app: QAApp, fake: FakeService) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"rebuild index")
        await pilot.pause(0.3)
        assert "Rebuild index" in screen_text(app)
        assert "Re-embed the whole corpus from scratch" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert fake.rebuilds == 1
        assert any("Index rebuilt: 3 files, 14 chunks" in n.message for n in app._notifications)


async def test_a_service_that_cannot_be_created_is_reported(settings: Settings, tmp_path: Path) -> None:
    def broken() -> FakeService:
        raise ImportError("cannot import name 'QAService' from 'qa.service'")

    app = create_app(settings, broken, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "⚠ Unexpected error: ImportError: cannot import name 'QAService'" in screen_text(app)
        assert app.is_running
