"""The index on disk under crashes, damage and concurrent use.

- Crash safety: `qa index` killed with SIGKILL at several points of a build leaves the
  previous (or the complete new) build live; it loads and answers as before; the next run
  completes the build.
- Damaged index: each kind of damage is reported on load as one line naming the problem,
  `qa index` / `qa ask` rebuild instead of answering from it, and nothing prints a traceback.
- Concurrency: the build lock serialises `qa index` runs; a service open while another
  process publishes a new build keeps answering and picks the new build up.

All corpora are generated in tmp folders and embedded with the model-free hashing embedder.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock
from helpers_reliability import (
    FACT_QUESTION,
    assert_one_line_error,
    hashing_settings,
    live_folder,
    make_corpus,
    popen_qa,
    qa_env,
    run_qa,
)

from qa.errors import IndexCorruptError, IndexLockedError
from qa.index import folder as store
from qa.index.build import plan, refresh
from qa.runtime.embedder import HashingEmbedder
from qa.service import QAService


def _answer_key(response) -> tuple:
    """What must not change when the index is rebuilt from the same text."""
    a = response.answer
    return (response.answered, a and a.text, a and a.source, a and a.start, a and a.end, a and a.line)


def _copy_state(src: Path, dst: Path) -> tuple[Path, Path]:
    """Copy a corpus + index pair (mtimes kept, so the copied index is up to date for the copied corpus)."""
    corpus, index_dir = dst / "corpus", dst / "index"
    shutil.copytree(src / "corpus", corpus)
    shutil.copytree(src / "index", index_dir)
    return corpus, index_dir


def _builds(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith("b-"))


def _temps(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-"))


# --- crash safety ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crash_base(tmp_path_factory) -> tuple[Path, tuple, float]:
    """A corpus whose build takes about a second with the hashing model, indexed once, and how
    long a `qa index --rebuild` of it takes here (timed kill points are fractions of that)."""
    base = tmp_path_factory.mktemp("crash-base")
    make_corpus(base / "corpus", files=20, sentences=40, seed=1)
    settings = hashing_settings(base / "corpus", base / "index")
    service = QAService(settings)
    service.prepare()
    timing = tmp_path_factory.mktemp("crash-timing")
    corpus, index_dir = _copy_state(base, timing)
    start = time.monotonic()
    proc = popen_qa("index", "--rebuild", "--corpus", str(corpus), "--index", str(index_dir), cwd=timing)
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    return base, _answer_key(service.ask(FACT_QUESTION)), time.monotonic() - start


def _wait_for(proc, condition: Callable[[], bool], deadline: float) -> None:
    """Poll ``condition`` every ~0.5 ms until it holds, the process exits, or the deadline passes."""
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if condition():
                return
        except OSError:  # folders come and go under us
            pass
        time.sleep(0.0005)


def _kill_point(kind: str, index_dir: Path, baseline: str) -> Callable[[], bool]:
    live = lambda: (index_dir / "CURRENT").read_text().strip()  # noqa: E731
    points = {
        # the temporary build folder has been created (writing has started)
        "tmp-created": lambda: bool(_temps(index_dir)),
        # the BM25 files are being written: most of the build is on disk, not yet published
        "tmp-bm25": lambda: any((index_dir / t / "bm25").exists() for t in _temps(index_dir)),
        # the new build folder has been renamed into place; CURRENT may not be replaced yet
        "renamed": lambda: len(_builds(index_dir)) > 1,
        # CURRENT names the new build; the old build is about to be removed
        "published": lambda: live() != baseline,
    }
    return points[kind]


CRASH_POINTS = [  # "at": a fraction of the time a whole build takes on this machine
    ("at", 0.1),  # while Python starts and imports
    ("at", 0.3),  # planning / reading the corpus
    ("at", 0.55),  # reading, embedding or writing, depending on the machine
    ("when", "tmp-created"),
    ("when", "tmp-bm25"),
    ("when", "renamed"),
    ("when", "published"),
]


@pytest.mark.slow
@pytest.mark.parametrize("how,point", CRASH_POINTS, ids=[f"{h}-{p}" for h, p in CRASH_POINTS])
def test_sigkill_during_build_keeps_a_working_index(crash_base, tmp_path, how, point):
    base, expected, build_s = crash_base
    corpus, index_dir = _copy_state(base, tmp_path)
    settings = hashing_settings(corpus, index_dir)
    assert plan(settings).up_to_date
    baseline = (index_dir / "CURRENT").read_text().strip()
    (corpus / "zz_new.txt").write_text("The harbour of Eastport reopened on Monday after repairs.\n")

    proc = popen_qa("index", "--rebuild", "--corpus", str(corpus), "--index", str(index_dir), cwd=tmp_path)
    start = time.monotonic()
    if how == "at":
        time.sleep(max(0.0, start + point * build_s - time.monotonic()))
    else:
        _wait_for(proc, _kill_point(point, index_dir, baseline), start + 60)
    assert proc.poll() is None, "the build finished before the kill point"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # The live build is complete: the old one, or the new one if it was published in time.
    live = store.current_build(index_dir)
    assert live is not None and live.name in _builds(index_dir)
    store.verify_build(live)
    store.load_build(live)
    assert _answer_key(QAService(settings).ask(FACT_QUESTION)) == expected

    # The next run completes the build (and clears what the killed run left behind).
    done = run_qa("index", "--corpus", str(corpus), "--index", str(index_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    after = plan(settings)
    assert after.up_to_date
    assert "zz_new.txt" in after.manifest.files and not after.manifest.files["zz_new.txt"].skipped
    if live.name == baseline:  # the killed run had not published: this run built and cleaned up
        assert _temps(index_dir) == []
        assert len(_builds(index_dir)) == 1
    assert _answer_key(QAService(settings).ask(FACT_QUESTION)) == expected


# --- damaged index ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_base(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("small-base")
    make_corpus(base / "corpus", files=3, sentences=20, seed=2)
    QAService(hashing_settings(base / "corpus", base / "index")).prepare()
    return base


def _truncate(name: str, keep: float) -> Callable[[Path], None]:
    def damage(build: Path) -> None:
        path = build / name
        size = path.stat().st_size
        with path.open("r+b") as fh:
            fh.truncate(int(size * keep))

    return damage


def _drop_last_line(name: str) -> Callable[[Path], None]:
    def damage(build: Path) -> None:
        path = build / name
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join(lines[:-1]))

    return damage


def _edit_jsonl_text(name: str) -> Callable[[Path], None]:
    """Change one passage's words without changing the file's size: only the checksum can tell."""

    def damage(build: Path) -> None:
        path = build / name
        data = path.read_bytes()
        assert b"officials said" in data
        path.write_bytes(data.replace(b"officials said", b"officials lied", 1))

    return damage


def _edit_manifest(**changes) -> Callable[[Path], None]:
    def damage(build: Path) -> None:
        path = build / "manifest.json"
        raw = json.loads(path.read_text())
        raw.update(changes)
        path.write_text(json.dumps(raw))

    return damage


def _remove(name: str) -> Callable[[Path], None]:
    def damage(build: Path) -> None:
        path = build / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    return damage


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda build: (build / name).write_bytes(data)


# (id, damage to the live build folder, pattern of the one-line IndexCorruptError message)
BUILD_DAMAGE = [
    ("faiss-truncated", _truncate("chunks.faiss", 0.5), r"chunks\.faiss has \d+ bytes, expected \d+ \(truncated\?\)"),
    ("faiss-empty", _truncate("sentences.faiss", 0.0), r"sentences\.faiss has 0 bytes"),
    ("faiss-garbage", _write("chunks.faiss", b"x" * 10), r"chunks\.faiss has 10 bytes"),
    ("npy-truncated", _truncate("chunk_vectors.npy", 0.9), r"chunk_vectors\.npy has \d+ bytes"),
    ("jsonl-truncated", _drop_last_line("chunks.jsonl"), r"chunks\.jsonl has \d+ bytes"),
    ("jsonl-edited", _edit_jsonl_text("sentences.jsonl"), r"sentences\.jsonl was modified .*checksum"),
    ("manifest-dimension", _edit_manifest(dimension=384), r"(?i)dimension|shape .*384"),
    ("manifest-future-version", _edit_manifest(format_version=99), r"format v99 is newer .*v1"),
    ("manifest-old-version", _edit_manifest(format_version=0), r"format 0 is not v1"),
    ("manifest-not-json", _write("manifest.json", b'{"format_version": 1, "mod'), r"manifest\.json is unreadable"),
    ("manifest-missing", _remove("manifest.json"), r"has no manifest\.json"),
    ("faiss-missing", _remove("chunks.faiss"), r"chunks\.faiss is missing"),
    ("jsonl-missing", _remove("sentences.jsonl"), r"sentences\.jsonl is missing"),
    ("bm25-missing", _remove("bm25"), r"bm25"),
    ("bm25-file-missing", _remove("bm25/vocab.index.json"), r"vocab\.index\.json"),
    ("bm25-file-truncated", _truncate("bm25/data.csc.index.npy", 0.5), r"data\.csc\.index\.npy"),
]
BUILD_DAMAGE_IDS = [d[0] for d in BUILD_DAMAGE]


def _damaged(small_base: Path, tmp_path: Path, damage: Callable[[Path], None]):
    corpus, index_dir = _copy_state(small_base, tmp_path)
    damage(live_folder(index_dir))
    return corpus, index_dir, hashing_settings(corpus, index_dir)


@pytest.mark.parametrize("name,damage,message", BUILD_DAMAGE, ids=BUILD_DAMAGE_IDS)
def test_damaged_build_is_detected_with_one_line(small_base, tmp_path, name, damage, message):
    corpus, index_dir, settings = _damaged(small_base, tmp_path, damage)
    live = live_folder(index_dir)

    with pytest.raises(IndexCorruptError, match=message) as caught:
        store.load_build(live)
    assert "\n" not in str(caught.value)

    # The cheap check that `qa index` runs sees it too, so it rebuilds instead of saying "up to date".
    with pytest.raises(IndexCorruptError, match=message):
        store.verify_build(live)
    p = plan(settings)
    assert p.full_reason.startswith("index damaged"), p.full_reason

    # A service never answers from it: one IndexCorruptError, not wrong passages or another exception.
    with pytest.raises(IndexCorruptError) as caught:
        QAService(settings).ask(FACT_QUESTION)
    assert "\n" not in str(caught.value)


def test_manifest_of_another_model_is_refused_and_rebuilt(small_base, tmp_path):
    corpus, index_dir, settings = _damaged(small_base, tmp_path, _edit_manifest(model="some/other-model"))
    with pytest.raises(IndexCorruptError, match=r"built with model 'some/other-model', settings say 'hashing'"):
        QAService(settings).ask(FACT_QUESTION)
    assert plan(settings).full_reason == "model changed (some/other-model -> hashing)"
    report = refresh(settings, HashingEmbedder)
    assert report.full_rebuild
    assert QAService(settings).ask(FACT_QUESTION).answer.text == "Helena Quist"


# Damage to the index folder itself (not a build inside it).
def _current_garbage(index_dir: Path) -> None:
    (index_dir / "CURRENT").write_text("../../etc\n")


def _current_missing(index_dir: Path) -> None:
    (index_dir / "CURRENT").unlink()


def _build_missing(index_dir: Path) -> None:
    shutil.rmtree(live_folder(index_dir))


FOLDER_DAMAGE = [
    ("current-garbage", _current_garbage, r"CURRENT names no build", "index damaged"),
    ("current-missing", _current_missing, r"no index in .*; run `qa index`", "no index yet"),
    ("build-folder-missing", _build_missing, r"has no manifest\.json", "index damaged"),
]


@pytest.mark.parametrize("name,damage,message,reason", FOLDER_DAMAGE, ids=[d[0] for d in FOLDER_DAMAGE])
def test_damaged_index_folder_is_detected(small_base, tmp_path, name, damage, message, reason):
    corpus, index_dir = _copy_state(small_base, tmp_path)
    damage(index_dir)
    settings = hashing_settings(corpus, index_dir)
    with pytest.raises(IndexCorruptError, match=message) as caught:
        QAService(settings).ask(FACT_QUESTION)
    assert "\n" not in str(caught.value)
    assert plan(settings).full_reason.startswith(reason)


def test_current_that_is_a_folder_is_one_line_not_a_crash(small_base, tmp_path):
    """CURRENT replaced by a folder cannot be replaced atomically: report it, do not try to build."""
    corpus, index_dir = _copy_state(small_base, tmp_path)
    (index_dir / "CURRENT").unlink()
    (index_dir / "CURRENT").mkdir()
    settings = hashing_settings(corpus, index_dir)
    for call in (lambda: refresh(settings, HashingEmbedder, force=True), lambda: QAService(settings).ask(FACT_QUESTION)):
        with pytest.raises(IndexCorruptError, match=r"^cannot read .*CURRENT: Is a directory$"):
            call()


def _damage_cases(*names: str) -> list:
    return [pytest.param(*d, id=d[0]) for d in BUILD_DAMAGE if d[0] in names]


CLI_DAMAGE = _damage_cases(
    "faiss-truncated", "jsonl-edited", "manifest-dimension", "manifest-future-version", "bm25-file-missing"
) + [pytest.param("manifest-model", _edit_manifest(model="some/other-model"), "", id="manifest-model")]


@pytest.mark.slow
@pytest.mark.parametrize("name,damage,message", CLI_DAMAGE)
def test_qa_index_repairs_a_damaged_index(small_base, tmp_path, name, damage, message):
    corpus, index_dir, settings = _damaged(small_base, tmp_path, damage)
    done = run_qa("index", "--corpus", str(corpus), "--index", str(index_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "up to date" not in done.stdout
    assert ("index damaged" in done.stdout) or ("model changed" in done.stdout), done.stdout
    assert len(done.stdout.strip().splitlines()) == 1
    store.load_build(live_folder(index_dir))
    assert QAService(settings).ask(FACT_QUESTION).answer.text == "Helena Quist"


@pytest.mark.slow
@pytest.mark.parametrize("name,damage,message", _damage_cases("jsonl-truncated", "manifest-dimension"))
def test_qa_ask_on_a_damaged_index_rebuilds_then_answers(small_base, tmp_path, name, damage, message):
    corpus, index_dir, settings = _damaged(small_base, tmp_path, damage)
    done = run_qa("ask", FACT_QUESTION, "--corpus", str(corpus), "--index", str(index_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.startswith("Answer: Helena Quist")


@pytest.mark.slow
def test_qa_ask_that_cannot_repair_prints_one_line(small_base, tmp_path):
    """Damaged index and another process holding the build lock: one line saying what to do, exit 1."""
    corpus, index_dir, settings = _damaged(small_base, tmp_path, _truncate("chunks.faiss", 0.5))
    with FileLock(str(index_dir / ".lock")):
        done = run_qa(
            "ask", FACT_QUESTION, "--corpus", str(corpus), "--index", str(index_dir),
            cwd=tmp_path, env=qa_env(QA_INDEX__LOCK_TIMEOUT_S="0"),
        )
    assert done.returncode == 1
    line = assert_one_line_error(done.stderr)
    assert "another qa process is building the index" in line
    assert done.stdout == ""


# --- concurrency -----------------------------------------------------------------------------


@pytest.mark.slow
def test_two_qa_index_runs_at_once_build_once_and_leave_a_valid_index(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", files=20, sentences=30, seed=3)
    index_dir = tmp_path / "index"
    args = ("index", "--corpus", str(corpus), "--index", str(index_dir))
    procs = [popen_qa(*args, cwd=tmp_path) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outs):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    # The lock serialised them: exactly one of the two embedded the corpus.
    assert sum("no index yet: embedded 20 file(s)" in out for out, _ in outs) == 1, outs
    assert sum("index is up to date" in out for out, _ in outs) == 1, outs
    assert len(_builds(index_dir)) == 1 and _temps(index_dir) == []
    store.load_build(live_folder(index_dir))


@pytest.mark.slow
def test_two_forced_rebuilds_at_once_both_succeed(small_base, tmp_path):
    corpus, index_dir = _copy_state(small_base, tmp_path)
    args = ("index", "--rebuild", "--corpus", str(corpus), "--index", str(index_dir))
    procs = [popen_qa(*args, cwd=tmp_path) for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "full rebuild requested" in out
    assert len(_builds(index_dir)) == 1 and _temps(index_dir) == []
    settings = hashing_settings(corpus, index_dir)
    assert plan(settings).up_to_date
    assert QAService(settings).ask(FACT_QUESTION).answer.text == "Helena Quist"


@pytest.mark.slow
def test_qa_index_waits_for_the_lock_then_builds(small_base, tmp_path):
    corpus, index_dir = _copy_state(small_base, tmp_path)
    (corpus / "zz_new.txt").write_text("The harbour of Eastport reopened on Monday after repairs.\n")
    lock = FileLock(str(index_dir / ".lock"), thread_local=False)  # released by the timer thread
    lock.acquire()
    timer = threading.Timer(1.5, lock.release)
    timer.start()
    try:
        done = run_qa("index", "--corpus", str(corpus), "--index", str(index_dir), cwd=tmp_path)
    finally:
        timer.join()
    assert done.returncode == 0, done.stderr
    assert "waiting for another qa process" in done.stderr
    assert "1 new or changed file(s): embedded 1 file(s)" in done.stdout


@pytest.mark.slow
def test_qa_index_gives_up_on_a_held_lock_with_a_clear_message(small_base, tmp_path):
    corpus, index_dir = _copy_state(small_base, tmp_path)
    (corpus / "zz_new.txt").write_text("The harbour of Eastport reopened on Monday after repairs.\n")
    before = (index_dir / "CURRENT").read_text()
    with FileLock(str(index_dir / ".lock")):
        done = run_qa(
            "index", "--corpus", str(corpus), "--index", str(index_dir),
            cwd=tmp_path, env=qa_env(QA_INDEX__LOCK_TIMEOUT_S="0.5"),
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("qa: index busy: another qa process is building the index")
    assert "try again when it has finished" in lines[-1]
    assert (index_dir / "CURRENT").read_text() == before


def test_refresh_raises_index_locked_error_when_the_lock_is_held(small_base, tmp_path):
    corpus, index_dir = _copy_state(small_base, tmp_path)
    (corpus / "zz_new.txt").write_text("The harbour of Eastport reopened on Monday after repairs.\n")
    settings = hashing_settings(corpus, index_dir, index={"lock_timeout_s": 0.1})
    waited = []
    with FileLock(str(index_dir / ".lock")):
        # filelock's locks are per-process re-entrant only through the same object: this is another holder.
        with pytest.raises(IndexLockedError, match="another qa process is building"):
            refresh(settings, HashingEmbedder, on_wait=lambda: waited.append(True))
    assert waited == [True]


@pytest.mark.slow
def test_service_keeps_answering_while_another_process_rebuilds_and_picks_up_the_new_build(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", files=20, sentences=40, seed=4)
    index_dir = tmp_path / "index"
    settings = hashing_settings(corpus, index_dir)
    service = QAService(settings)
    service.prepare()
    first = service.info()
    assert service.ask(FACT_QUESTION).answer.text == "Helena Quist"

    (corpus / "zz_new.txt").write_text("The harbour master of Eastport is Jonas Berg.\n")
    proc = popen_qa("index", "--rebuild", "--corpus", str(corpus), "--index", str(index_dir), cwd=tmp_path)
    answers = 0
    while proc.poll() is None:
        assert service.ask(FACT_QUESTION).answer.text == "Helena Quist"
        answers += 1
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert answers > 0

    # CURRENT changed: the same service object reloads the new build on its next call.
    assert service.info().files == first.files + 1
    response = service.ask("Who is the harbour master of Eastport?")
    assert response.answer is not None and response.answer.text == "Jonas Berg"
    assert response.answer.source == "zz_new.txt"


def test_service_survives_a_build_published_while_it_loads(small_base, tmp_path, monkeypatch):
    """A service that starts loading build A just as another process publishes B and deletes A
    must load B instead of failing (the old build folder vanishes under it)."""
    corpus, index_dir = _copy_state(small_base, tmp_path)
    settings = hashing_settings(corpus, index_dir)
    real_load = store.load_build
    calls = []

    def load_while_another_process_publishes(folder, nprobe=0):
        if not calls:
            # Another process publishes a new build and removes the old one, right now.
            refresh(settings, HashingEmbedder, force=True)
            assert not folder.exists()
        calls.append(folder.name)
        return real_load(folder, nprobe)

    monkeypatch.setattr(store, "load_build", load_while_another_process_publishes)
    service = QAService(settings)
    assert service.ask(FACT_QUESTION).answer.text == "Helena Quist"
    assert calls[-1] == live_folder(index_dir).name


def test_load_build_of_a_vanishing_folder_is_an_index_error(small_base, tmp_path, monkeypatch):
    """Files disappearing between the integrity check and the reads give IndexCorruptError, not OSError."""
    corpus, index_dir = _copy_state(small_base, tmp_path)
    live = live_folder(index_dir)
    real_verify = store.verify_build

    def verify_then_vanish(folder):
        manifest = real_verify(folder)
        shutil.rmtree(folder)
        return manifest

    monkeypatch.setattr(store, "verify_build", verify_then_vanish)
    with pytest.raises(IndexCorruptError):
        store.load_build(live)

