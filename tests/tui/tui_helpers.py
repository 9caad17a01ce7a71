"""Pilot helpers shared by the TUI tests."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.pilot import Pilot


async def settle(pilot: Pilot[Any], rounds: int = 50) -> None:
    """Wait until no worker runs and the messages they posted (which may start more workers) are handled."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in pilot.app.workers):
            await pilot.pause()
            return
    raise AssertionError("workers kept running")


def screen_text(app: App[Any]) -> str:
    """What the terminal shows right now, as plain text (one line per row)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def ask(pilot: Pilot[Any], question: str) -> None:
    """Type a question into the input (as a paste would), press Enter and wait for the answer."""
    field = pilot.app.screen.query_one("#question")
    field.value = question  # type: ignore[attr-defined]
    await pilot.press("enter")
    await settle(pilot)
