"""The chat in the smallest common terminal, 80x24: question, answer, evidence and quit all still work."""

from __future__ import annotations

from fake_service import FakeService
from tui_helpers import screen_text, settle

from qa.tui.app import QAApp
from qa.tui.widgets import AnswerCard, QuestionInput

SIZE = (80, 24)


def visible(app: QAApp, widget) -> bool:
    """The widget lies inside the 80x24 screen (not pushed off it)."""
    region = widget.region
    return region.width > 0 and region.height > 0 and region.right <= SIZE[0] and region.bottom <= SIZE[1]


async def test_chat_answers_and_quits_at_80x24(app: QAApp, fake: FakeService) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert len(text.splitlines()) == SIZE[1]
        assert "Ask a question about the articles and press Enter" in text
        assert "Ready." in text
        assert "^p palette" in text

        await pilot.click("#question")
        await pilot.press(*"Who shot the officer?", "enter")
        await settle(pilot)
        text = screen_text(app)
        card = app.screen.query_one(AnswerCard)
        assert visible(app, card) and visible(app, app.screen.query_one(QuestionInput))
        assert "Ruslan Zinin" in text
        assert "Reported by 2 of 3 sources" in text
        assert "002_5a7fdab8de9f5a87.txt, line 14" in text
        assert app.screen.query_one(QuestionInput).has_focus

        await pilot.press("ctrl+t")  # the evidence panel shares the width; the answer stays readable
        await settle(pilot)
        text = screen_text(app)
        assert "Ruslan Zinin" in text and "Retrieved for" in text
        assert visible(app, app.screen.query_one(QuestionInput))

        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0
    assert fake.asked == [("Who shot the officer?", ())]
