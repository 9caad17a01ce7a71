"""Start-up: `qa --help` loads no textual, the UI loads no model stack, and the window paints at once."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "sentence_transformers", "transformers", "faiss", "numpy", "qa.service")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.slow
def test_chat_subcommand_registers_without_importing_textual() -> None:
    result = run_python(
        "import argparse, sys\n"
        "from qa.tui import command\n"
        "parser = argparse.ArgumentParser()\n"
        "command.add_parser(parser.add_subparsers())\n"
        "args = parser.parse_args(['chat', '--corpus', 'articles', '--index', 'idx'])\n"
        "assert args.handler is command.run, args\n"
        "assert (args.corpus, args.index_dir) == ('articles', 'idx'), args\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_building_the_app_imports_no_model_stack() -> None:
    result = run_python(
        "import sys\n"
        "from qa.config import load_settings\n"
        "from qa.tui.app import create_app\n"
        "create_app(load_settings())\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def first_paint_seconds(corpus: Path, index: Path, timeout: float = 30.0) -> tuple[float, float]:
    """Launch `python -m qa.cli chat` in a pseudo-terminal; wall and CPU seconds until the welcome text is drawn.

    The CPU time (the child's user + system time when its first frame arrives) does not grow when other
    processes compete for the machine, so it is what the test bounds; on an idle machine the two agree.
    """
    pid, fd = pty.fork()
    if pid == 0:  # the child becomes the app, exactly as a user starts it
        os.chdir(ROOT)
        command = ["-m", "qa.cli", "chat", "--corpus", str(corpus), "--index", str(index)]
        os.execv(sys.executable, [sys.executable, *command])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    start = time.perf_counter()
    seen = b""
    try:
        while time.perf_counter() - start < timeout:
            seen += _read(fd)
            if b"Ask a question about the articles" in seen:
                return time.perf_counter() - start, _cpu_seconds(pid)
        raise AssertionError(f"no first paint within {timeout} s; output: {seen[-500:]!r}")
    finally:
        _stop(pid, fd)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _read(fd: int) -> bytes:
    ready, _, _ = select.select([fd], [], [], 0.02)
    try:
        return os.read(fd, 65536) if ready else b""
    except OSError:  # the child closed the terminal
        return b""


def _stop(pid: int, fd: int) -> None:
    """ctrl+q, then wait (draining the terminal); kill the child only if it does not quit."""
    os.write(fd, b"\x11")
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        _read(fd)
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            break
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)


@pytest.mark.slow
def test_the_window_paints_well_under_a_second(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    wall, cpu = first_paint_seconds(tmp_path / "corpus", tmp_path / "index")
    assert cpu < 1.0, f"first paint took {cpu:.2f} s of CPU ({wall:.2f} s wall)"
    assert wall < 10, f"first paint took {wall:.2f} s"
