"""Run a command in a real pseudo-terminal, as a person at a terminal would, and read what it shows.

Stdlib only (``pty``, ``termios``, ``select``). The child gets the terminal as its controlling
terminal and as stdin, stdout and stderr, with the window size set before it starts, so
``isatty()``, ``os.get_terminal_size()``, rich and Textual all see a terminal of that size.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import sys
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CTRL_Q = b"\x11"
ENTER = b"\r"

_ESCAPES = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, modes
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, colour queries
    rb"|\x1b[P_^X][^\x1b]*\x1b\\"  # DCS/APC/PM/SOS strings
    rb"|\x1b[()*+][0-~]"  # character set selection
    rb"|\x1b[ -/]*[0-~]"  # any other two-byte escape
)


def strip_escapes(data: bytes) -> str:
    """The printable text of terminal output: escape sequences removed, CR dropped."""
    return _ESCAPES.sub(b"", data).replace(b"\r", b"").decode("utf-8", "replace")


def qa_command() -> list[str]:
    """The installed ``qa`` entry point next to this interpreter (``.venv/bin/qa``)."""
    script = Path(sys.executable).with_name("qa")
    return [str(script)] if script.exists() else [sys.executable, "-m", "qa.cli"]


def terminal_env(**overrides: str | None) -> dict[str, str]:
    """This environment as a terminal user's: no size or colour overrides inherited from the test runner."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env = {k: v for k, v in env.items() if not k.startswith(("TEXTUAL_", "PYTEST_"))}
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class Terminal:
    """One command in a ``rows`` x ``cols`` pseudo-terminal. Use as a context manager."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | str = ROOT,
        env: Mapping[str, str] | None = None,
        rows: int = 24,
        cols: int = 80,
    ) -> None:
        self.argv = list(argv)
        self.output = b""
        self.returncode: int | None = None
        env = dict(terminal_env() if env is None else env)
        pid, fd = pty.fork()
        if pid == 0:  # the child: size the terminal, then become the command
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.chdir(cwd)
                os.execvpe(self.argv[0], self.argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self._eof = False

    # --- reading ------------------------------------------------------------------------

    def _pump(self, wait: float) -> None:
        if self._eof:
            time.sleep(wait)
            return
        import select

        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            return
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: every process holding the terminal has closed it
            data = b""
        if data:
            self.output += data
        else:
            self._eof = True

    @property
    def text(self) -> str:
        """Everything shown so far, as plain text."""
        return strip_escapes(self.output)

    def tail(self, n: int = 3000) -> str:
        return self.text[-n:]

    def expect(self, pattern: str, timeout: float = 60.0, *, after: int = 0) -> re.Match[str]:
        """Wait until ``pattern`` (a regex over the plain text from offset ``after``) has been shown."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.text, after)
            if match:
                return match
            if self._eof or time.monotonic() > deadline:
                why = "the command ended" if self._eof else f"{timeout:.0f} s passed"
                raise AssertionError(f"{pattern!r} not shown before {why}; {self.argv}; terminal tail:\n{self.tail()}")
            self._pump(0.05)

    def send(self, data: bytes | str, *, per_key: float = 0.0) -> None:
        """Type ``data`` (optionally one key at a time, as a person types)."""
        raw = data.encode() if isinstance(data, str) else data
        if not per_key:
            os.write(self.fd, raw)
            return
        for i in range(len(raw)):
            os.write(self.fd, raw[i : i + 1])
            self._pump(per_key)

    # --- ending -------------------------------------------------------------------------

    def wait(self, timeout: float = 120.0) -> int:
        """The exit code, reading output until the command ends; kills it (and fails) after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"{self.argv} still running after {timeout:.0f} s; terminal tail:\n{self.tail()}")
            self._pump(0.05)
        for _ in range(40):  # whatever it wrote just before exiting
            if self._eof:
                break
            self._pump(0.02)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)  # pty.fork made the child a session (and group) leader
            except ProcessLookupError:
                pass
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)

    def close(self) -> None:
        self.kill()
        try:
            os.close(self.fd)
        except OSError:
            pass

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_in_terminal(argv: Sequence[str], timeout: float = 180.0, **kwargs) -> Terminal:
    """Run a non-interactive command to its end in a terminal; the finished Terminal (``returncode``, ``text``)."""
    with Terminal(argv, **kwargs) as term:
        term.wait(timeout)
    return term
