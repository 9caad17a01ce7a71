"""SVG snapshots against the fake service. Update with --snapshot-update, and look at the SVGs before committing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fake_service import FakeService
from textual.pilot import Pilot
from tui_helpers import ask, settle

from qa.tui.app import QAApp
from qa.tui.widgets import QuestionInput

SIZE = (120, 40)
SnapCompare = Callable[..., bool]


def asking(*questions: str, keys: tuple[str, ...] = ()) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        pilot.app.screen.query_one(QuestionInput).cursor_blink = False  # a blinking cursor is not deterministic
        await settle(pilot)
        for question in questions:
            await ask(pilot, question)
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


def test_answer(snap_compare: SnapCompare, make_app: Callable[[FakeService], QAApp], fake: FakeService) -> None:
    assert snap_compare(make_app(fake), terminal_size=SIZE, run_before=asking("Who shot the officer in Ust-Ilimsk?"))


def test_no_answer(snap_compare: SnapCompare, make_app: Callable[[FakeService], QAApp], fake: FakeService) -> None:
    assert snap_compare(make_app(fake), terminal_size=SIZE, run_before=asking("What is the weather on Mars?"))


def test_tentative_answer(
    snap_compare: SnapCompare, make_app: Callable[[FakeService], QAApp], fake: FakeService
) -> None:
    assert snap_compare(make_app(fake), terminal_size=SIZE, run_before=asking("How old was the shooter?"))


def test_conflict_with_evidence_panel(
    snap_compare: SnapCompare, make_app: Callable[[FakeService], QAApp], fake: FakeService
) -> None:
    run_before = asking("How many men left Russia?", keys=("ctrl+t",))
    assert snap_compare(make_app(fake), terminal_size=SIZE, run_before=run_before)


def test_source_viewer(snap_compare: SnapCompare, make_app: Callable[[FakeService], QAApp], fake: FakeService) -> None:
    run_before = asking("Who shot the officer in Ust-Ilimsk?", keys=("ctrl+o",))
    assert snap_compare(make_app(fake), terminal_size=SIZE, run_before=run_before)
