"""Opening citations in the source viewer, and the evidence panel."""

from __future__ import annotations

from collections.abc import Callable

from fake_service import DOCUMENTS, ZININ_FILE, FakeService
from tui_helpers import ask, screen_text, settle

from qa.errors import CorpusError
from qa.tui.app import QAApp
from qa.tui.render import HIGHLIGHT, source_view
from qa.tui.screens import ChatScreen, SourceScreen
from qa.tui.widgets import EvidencePanel, SourceLink

SIZE = (120, 40)


def highlighted_on_screen(app: QAApp) -> list[str]:
    """Text drawn in the highlight style (bold reverse) on the current screen."""
    return [
        segment.text
        for strip in app.screen._compositor.render_strips()
        for segment in strip
        if segment.style is not None and segment.style.bold and segment.style.reverse
    ]


async def test_enter_on_a_citation_opens_the_file_at_the_cited_lines(app: QAApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "Who shot the officer?")
        app.screen.query_one("ChatLog SourceLink", SourceLink).focus()
        await pilot.press("enter")
        await settle(pilot)

        assert isinstance(app.screen, SourceScreen)
        text = screen_text(app)
        assert "002_5a7fdab8de9f5a87.txt — line 14" in text  # header: file and cited lines
        assert "14 In the attack in the Siberian city of Ust-Ilimsk" in text  # scrolled to the line
        assert highlighted_on_screen(app) == ["Ruslan Zinin"]

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)


async def test_clicking_a_citation_opens_it(app: QAApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "Who shot the officer?")
        links = app.screen.query("ChatLog SourceLink").results(SourceLink)
        second = list(links)[1]
        assert await pilot.click(second)
        await settle(pilot)

        assert isinstance(app.screen, SourceScreen)
        assert app.screen.ref.source == "003_fe46f044fe634529.txt"
        assert "003_fe46f044fe634529.txt — line 25" in screen_text(app)
        assert highlighted_on_screen(app) == ["Ruslan Zinin"]


async def test_ctrl_o_opens_the_selected_answer(app: QAApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "How many men left Russia?")
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, SourceScreen)
        assert highlighted_on_screen(app) == ["261,000"]


async def test_unreadable_source_is_a_notification(make_app: Callable[[FakeService], QAApp]) -> None:
    app = make_app(FakeService(read_error=CorpusError("002_5a7fdab8de9f5a87.txt was removed")))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "Who shot the officer?")
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, ChatScreen)
        assert [n.message for n in app._notifications] == ["002_5a7fdab8de9f5a87.txt was removed"]


async def test_evidence_panel_shows_passages_with_scores_for_the_selected_answer(app: QAApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "Who shot the officer?")
        await ask(pilot, "How many men left Russia?")
        panel = app.screen.query_one(EvidencePanel)
        assert not panel.display

        await pilot.press("ctrl+t")
        await pilot.pause()
        assert panel.display
        text = screen_text(app)
        assert "Retrieved for  How many men left Russia?" in text
        assert "1. 000_1e59f56b4bd2b559.txt, line 47  score 0.77" in text

        await pilot.click("AnswerCard")  # select the first answer
        await pilot.pause()
        text = screen_text(app)
        assert "Retrieved for  Who shot the officer?" in text
        assert "1. 002_5a7fdab8de9f5a87.txt, line 14  score 0.83" in text
        assert "3. 000_1e59f56b4bd2b559.txt, line 47  score 0.31" in text

        await pilot.press("ctrl+t")
        await pilot.pause()
        assert not panel.display


def test_source_view_numbers_lines_and_highlights_the_span() -> None:
    text = DOCUMENTS[ZININ_FILE]
    start = text.find("Ruslan Zinin")
    view = source_view(text, start, start + len("Ruslan Zinin"))
    assert (view.line_start, view.line_end, view.exact) == (14, 14, True)
    assert view.before is not None and view.before.row_count == 13
    assert view.cited.row_count == 1
    cell = view.cited.columns[1]._cells[0]
    assert [cell.plain[s.start : s.end] for s in cell.spans if s.style == HIGHLIGHT] == ["Ruslan Zinin"]


def test_source_view_survives_offsets_past_the_end() -> None:
    view = source_view("one\ntwo\n", 50, 60)
    assert not view.exact
    assert view.after is None
