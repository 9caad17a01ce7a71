from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fake_service import FakeService

from qa.config import Settings, load_settings
from qa.tui.app import QAApp, create_app


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(corpus="seeds", index_dir=str(tmp_path / "index"))


@pytest.fixture
def fake() -> FakeService:
    return FakeService()


@pytest.fixture
def make_app(settings: Settings, tmp_path: Path) -> Callable[[FakeService], QAApp]:
    """The app as the CLI builds it, over a fake service; exports go to tmp_path."""

    def make(service: FakeService) -> QAApp:
        return create_app(settings, lambda: service, export_dir=tmp_path)

    return make


@pytest.fixture
def app(make_app: Callable[[FakeService], QAApp], fake: FakeService) -> QAApp:
    return make_app(fake)
