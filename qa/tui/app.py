"""The Textual app. ``create_app`` is the one factory used by ``qa chat`` and by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.screen import Screen

from qa.config import Settings
from qa.tui.screens import ChatScreen, ServiceFactory

if TYPE_CHECKING:
    from qa.service import Service


class QAApp(App[None]):
    TITLE = "qa"
    CSS_PATH = "chat.tcss"

    def __init__(self, service_factory: ServiceFactory, corpus: str, export_dir: Path) -> None:
        super().__init__()
        self._chat_screen = ChatScreen(service_factory, corpus, export_dir)

    def get_default_screen(self) -> Screen[None]:
        return self._chat_screen


def real_service_factory(settings: Settings) -> ServiceFactory:
    """A factory for the real service. It runs in the loading worker, so the heavy import happens there."""

    def create() -> Service:
        from qa.service import QAService

        return QAService(settings)

    return create


def create_app(
    settings: Settings, service_factory: ServiceFactory | None = None, *, export_dir: Path | None = None
) -> QAApp:
    """The chat app over ``settings``; tests pass a fake ``service_factory``. Exports go to ``export_dir`` (cwd)."""
    factory = service_factory or real_service_factory(settings)
    return QAApp(factory, str(settings.corpus), export_dir or Path.cwd())
