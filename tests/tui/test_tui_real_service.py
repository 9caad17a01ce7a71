"""The chat with the real service and the real model over seeds/ (slow: loads the model, builds an index)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_service import DOCUMENTS, SEEDS
from tui_helpers import screen_text, settle

from qa.config import load_settings
from qa.tui.app import create_app
from qa.tui.screens import SourceScreen
from qa.tui.widgets import AnswerCard, ErrorLine, SourceLink


@pytest.mark.slow
async def test_real_service_answers_over_the_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.service import QAService  # no importorskip: the chat needs the real service to exist

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = load_settings(corpus=str(SEEDS), index_dir=str(tmp_path / "index"))
    app = create_app(settings, export_dir=tmp_path)  # the real factory, as `qa chat` builds it
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"Who is the Kremlin spokesperson?", "enter")  # typed while it loads
        await settle(pilot, rounds=200)

        text = screen_text(app)
        assert not app.screen.query(ErrorLine), text
        assert f"{SEEDS} · 3 files ·" in text
        response = app.screen.query_one(AnswerCard).response
        assert response.total_sources == 3 and response.passages
        assert response.answered and response.answer is not None, response.message
        answer = response.answer
        assert DOCUMENTS[answer.source][answer.start : answer.end] == answer.text
        assert "Peskov" in answer.text
        assert answer.text in text
        assert answer.source in text  # its citation

        app.screen.query_one("ChatLog SourceLink", SourceLink).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SourceScreen)
        assert app.screen.ref.source in DOCUMENTS
    assert QAService is not None
