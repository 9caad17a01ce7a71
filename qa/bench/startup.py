"""Fresh-process measurements: wall time and peak memory of ``qa ask``, ``qa index``, the
import floor (torch + sentence-transformers and nothing else) and the chat's first frame.

Children are started with this interpreter (``python -m qa.cli ...`` is what the ``qa``
script runs) through a tiny launcher process that starts the child, reaps it with
``os.wait4`` and reports that one child's wall time and ``ru_maxrss`` (its peak resident
set, KiB on Linux). The launcher is needed because Linux carries the peak RSS of the
address space a process had before ``exec`` into ``ru_maxrss``, so a child forked
straight from this (large) process would report at least this process's peak.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from qa.bench.stats import median

IMPORT_FLOOR = "import torch, sentence_transformers"

_LAUNCHER = """
import json, os, subprocess, sys, time
report, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
proc = subprocess.Popen(cmd)
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - t0
with open(report, "w") as fh:
    json.dump({"seconds": seconds, "maxrss_kib": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}, fh)
"""


@dataclass
class ChildRun:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


class ChildFailed(RuntimeError):
    pass


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def run_child(cmd: list[str], timeout: float = 900.0, check: bool = True, env: dict | None = None) -> ChildRun:
    """Run ``cmd`` via the launcher; its own wall time (fork to exit) and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="qa-bench-child-") as tmp:
        report = Path(tmp) / "report.json"
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER, str(report), *cmd],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=child_env() | (env or {}),
                start_new_session=True,
            )
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise ChildFailed(f"{' '.join(cmd[:4])} ... did not finish in {timeout:.0f} s") from None
        stdout = out_path.read_text(encoding="utf-8", errors="replace")
        stderr = err_path.read_text(encoding="utf-8", errors="replace")
        try:
            info = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ChildFailed(f"the launcher of {' '.join(cmd[:4])} ... reported nothing: {stderr[-300:]}") from None
    run = ChildRun(
        seconds=float(info["seconds"]),
        peak_rss_mb=info["maxrss_kib"] / 1024.0,
        returncode=int(info["code"]),
        stdout=stdout,
        stderr=stderr,
    )
    if check and run.returncode != 0:
        tail = " | ".join(run.stderr.strip().splitlines()[-3:])
        raise ChildFailed(f"{' '.join(cmd[:4])} ... exited {run.returncode}: {tail[:400]}")
    return run


def _spawn_direct(cmd: list[str], timeout: float) -> str:
    """Run ``cmd`` straight from this process; return its stdout (for the first-paint child)."""
    try:
        done = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, env=child_env(), timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ChildFailed(f"{' '.join(cmd[:4])} ... did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = " | ".join(done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:])
        raise ChildFailed(f"{' '.join(cmd[:4])} ... exited {done.returncode}: {tail[:400]}")
    return done.stdout.decode("utf-8", "replace")


def qa_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "qa.cli", *args]


def cold_ask_and_floor(
    question: str, corpus: Path, index_dir: Path, repeats: int, torch_index_dir: Path | None = None
) -> dict:
    """Interleaved, ``repeats`` times each: the import floor (torch + sentence-transformers), ``qa ask``
    on a built index, and (with ``torch_index_dir``) the same ``qa ask`` on the old path: embedder and
    reader on torch (:mod:`qa.bench.old_path`) over an index built by sentence-transformers."""
    floors, asks, ask_rss, floor_rss, old, old_rss = [], [], [], [], [], []
    args = ("ask", question, "--corpus", str(corpus))
    for _ in range(repeats):
        floor = run_child([sys.executable, "-c", IMPORT_FLOOR])
        floors.append(floor.seconds)
        floor_rss.append(floor.peak_rss_mb)
        ask = run_child(qa_cmd(*args, "--index", str(index_dir)))
        asks.append(ask.seconds)
        ask_rss.append(ask.peak_rss_mb)
        if torch_index_dir is not None:
            before = run_child([sys.executable, "-m", "qa.bench.old_path", *args, "--index", str(torch_index_dir)])
            old.append(before.seconds)
            old_rss.append(before.peak_rss_mb)
    cold, base = median(asks), median(floors)
    out = {
        "cold_ask_s": cold,
        "import_floor_s": base,
        "cold_ask_over_floor_s": median([a - f for a, f in zip(asks, floors)]),
        "peak_rss_ask_mb": median(ask_rss),
        "peak_rss_import_floor_mb": median(floor_rss),
        "repeats": repeats,
        "runs": {"cold_ask_s": asks, "import_floor_s": floors, "cold_ask_torch_s": old},
    }
    if old:
        out |= {
            "cold_ask_torch_s": median(old),
            "peak_rss_ask_torch_mb": median(old_rss),
            "cold_ask_speedup_vs_torch": median([o / a for o, a in zip(old, asks)]),
        }
    return out


def chat_ready(corpus: Path, index_dir: Path, export_dir: Path, question: str, repeats: int) -> dict:
    """Launch -> the answer to a question sent at the first frame, in fresh processes
    (:mod:`qa.bench.chat_ready`); also which heavy modules the chat had loaded by then."""
    seconds, modules = [], set()
    for _ in range(repeats):
        cmd = [
            sys.executable, "-m", "qa.bench.chat_ready", "--corpus", str(corpus), "--index", str(index_dir),
            "--export-dir", str(export_dir), "--question", question,
        ]
        launched = time.monotonic()
        stdout = _spawn_direct(cmd, timeout=300)
        seconds.append(_last_float(stdout, "ANSWERED ") - launched)
        for line in stdout.splitlines():
            if line.startswith("MODULES "):
                modules.update(json.loads(line[len("MODULES "):]))
    return {"chat_ready_s": median(seconds), "runs": seconds, "heavy_modules_loaded": sorted(modules),
            "repeats": repeats}


def cold_index(corpus: Path, index_dir: Path, repeats: int) -> dict:
    """``qa index --rebuild`` of ``corpus`` in a fresh process: wall time and peak RSS."""
    seconds, rss = [], []
    for _ in range(repeats):
        run = run_child(qa_cmd("index", "--rebuild", "--corpus", str(corpus), "--index", str(index_dir)))
        seconds.append(run.seconds)
        rss.append(run.peak_rss_mb)
    return {"cold_index_s": median(seconds), "peak_rss_index_mb": median(rss), "repeats": repeats}


def tui_first_paint(corpus: Path, index_dir: Path, export_dir: Path, repeats: int) -> dict:
    """Launch -> first frame of the chat app, in fresh processes (see :mod:`qa.bench.first_paint`).

    The child builds the app with ``qa.tui.app.create_app`` (what ``qa chat`` runs) and the
    real service, runs it headless, and prints ``time.monotonic()`` when Textual posts
    ``events.Ready`` (sent right after the first frame is composited). CLOCK_MONOTONIC
    is system-wide on Linux, so the parent's launch time and the child's are comparable.
    """
    seconds = []
    for _ in range(repeats):
        cmd = [
            sys.executable, "-m", "qa.bench.first_paint",
            "--corpus", str(corpus), "--index", str(index_dir), "--export-dir", str(export_dir),
        ]
        launched = time.monotonic()
        stdout = _spawn_direct(cmd, timeout=120)
        seconds.append(_last_float(stdout, "READY ") - launched)
    return {"tui_first_paint_s": median(seconds), "repeats": repeats}


def _last_float(text: str, tag: str) -> float:
    for line in reversed(text.splitlines()):
        if line.startswith(tag):
            return float(line[len(tag):])
    raise ChildFailed(f"the child printed no {tag.strip()} line: {text[-200:]!r}")
