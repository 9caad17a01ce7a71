"""The chat when its index store (a Milvus server) cannot be reached: it stays up and says so."""

from __future__ import annotations

import socket
from pathlib import Path

from tui_helpers import screen_text, settle

from qa.config import load_settings, with_updates
from qa.tui.app import create_app
from qa.tui.widgets import ErrorLine


async def test_the_chat_stays_up_and_names_the_unreachable_store(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    uri = f"milvus://127.0.0.1:{port}/news"
    settings = with_updates(load_settings(corpus=str(tmp_path), index_dir=str(tmp_path / "index")),
                            embedding={"model": "hashing"}, store={"uri": uri})
    (tmp_path / "a.txt").write_text("One article. It rained in Bratsk.\n", encoding="utf-8")
    app = create_app(settings, export_dir=tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, rounds=200)
        await pilot.press(*"Where did it rain?", "enter")
        await settle(pilot, rounds=100)
        text = screen_text(app)
        assert app.is_running and app.screen.query(ErrorLine), text
        assert f"cannot reach Milvus at {uri}" in text
        assert "Traceback" not in text
