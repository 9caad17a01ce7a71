"""MilvusStore against Milvus Lite (in-process, and its gRPC server on loopback): the same answers as
the folder store, refreshes that touch only the changed file's rows, atomic publishing, and faults
as one line."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings, with_updates
from qa.errors import IndexCorruptError, IndexLockedError, StoreUnavailableError
from qa.index.lexical import terms
from qa.index.milvus import ALIVE, MilvusStore, _Lease, encode_terms
from qa.index.store import FolderStore, open_store, parse_store_uri
from qa.retrieval.retrieve import retrieve, shown_passages
from qa.runtime.embedder import HashingEmbedder

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

QUESTIONS = [
    "Who shot the military commissioner in Ust-Ilimsk?",
    "How many men have left Russia since the mobilisation was announced?",
    "What did the gunman shout?",
    "Who is the Kremlin spokesman?",
    "Where is Ust-Ilimsk?",
    "What happened at the school in Izhevsk?",
    "2,000 reservists",
    "weather on Mars",
]


def lite(settings: Settings, path: Path, collection: str = "qa") -> Settings:
    return with_updates(settings, store={"uri": f"milvus-lite:{path}#{collection}"})


def rows(store: MilvusStore) -> dict[tuple[str, int], tuple[str, int, int, int, int]]:
    """Every row of both collections: (kind, id) -> (source, start, end, born, died)."""
    head = store.head()
    out = {}
    for kind in ("chunks", "sentences"):
        for r in store._rows(head[kind], "id >= 0"):
            out[(kind, int(r["id"]))] = (r["source"], r["start"], r["end"], r["born"], r["died"])
    return out


@pytest.fixture
def milvus(hashing: Settings, tmp_path: Path) -> Settings:
    return lite(hashing, tmp_path / "milvus" / "qa.db")


def test_store_uris_parse_and_bad_ones_fail_in_one_line(tmp_path: Path):
    assert parse_store_uri("", tmp_path).kind == "folder"
    uri = parse_store_uri("milvus://db.example:19530/news", tmp_path)
    assert (uri.kind, uri.address, uri.collection, str(uri)) == ("milvus", "db.example:19530", "news",
                                                                  "milvus://db.example:19530/news")
    assert parse_store_uri("milvus://h:1", tmp_path).collection == "qa"
    assert parse_store_uri("milvus-lite:index/qa.db", tmp_path).address == "index/qa.db"
    for bad in ("milvus://nohost", "milvus://h:x/y", "milvus://h:1/bad-name", "redis://h:1", "milvus-lite:"):
        with pytest.raises(Exception) as err:
            parse_store_uri(bad, tmp_path)
        assert "\n" not in str(err.value) and bad.split(":")[0] in str(err.value)


def test_terms_reach_milvus_bm25_unchanged():
    assert encode_terms(["shoot", "ust", "ilimsk"]) == "shoot ust ilimsk"
    odd = encode_terms(["2,000", "o'neil", "zürich"]).split()
    assert len(odd) == 3 and all(t.isascii() and t.isalnum() for t in odd)


def test_milvus_retrieves_what_the_folder_store_retrieves(hashing: Settings, milvus: Settings):
    embedder = HashingEmbedder()
    folder_store, milvus_store = open_store(hashing), open_store(milvus)
    assert isinstance(folder_store, FolderStore) and isinstance(milvus_store, MilvusStore)
    a = folder_store.refresh(hashing, lambda: embedder)
    b = milvus_store.refresh(milvus, lambda: embedder)
    assert (a.files_indexed, a.chunks, a.sentences) == (b.files_indexed, b.chunks, b.sentences)
    fv, mv = folder_store.open(), milvus_store.open()
    assert fv.manifest.files == mv.manifest.files
    for q in QUESTIONS:
        qvec = embedder.encode([q])[0]
        fh = retrieve(fv, qvec, terms(q), 10)
        mh = retrieve(mv, qvec, terms(q), 10)
        assert [fv.chunk(h.chunk).text for h in fh] == [mv.chunk(h.chunk).text for h in mh], q
        assert np.allclose([h.score for h in fh], [h.score for h in mh], atol=1e-4), q
        assert np.allclose([h.bm25 for h in fh], [h.bm25 for h in mh], atol=1e-4), q
        shown = shown_passages(mv, mh, 5)
        for p in shown:
            assert (SEEDS / p.source).read_text(encoding="utf-8")[p.start : p.end] == p.text
        assert shown == shown_passages(fv, fh, 5)
    milvus_store.close()


def test_refresh_of_one_changed_file_touches_only_its_rows(milvus: Settings):
    store = MilvusStore(parse_store_uri(milvus.store.uri, milvus.index_dir))
    store.refresh(milvus, HashingEmbedder)
    before = rows(store)
    gen = store.head()["generation"]
    changed = sorted(milvus.corpus.glob("*.txt"))[1]
    with changed.open("a", encoding="utf-8") as fh:
        fh.write("\nA late paragraph. The harbour master of Ust-Ilimsk is Pavel Ostrov.\n")

    report = store.refresh(milvus, HashingEmbedder)
    assert report.embedded_files == [changed.name] and report.reused_files == 2 and not report.full_rebuild
    after = rows(store)
    for key, old in before.items():
        if old[0] != changed.name:
            assert after[key] == old  # no other file's row was rewritten, renumbered or re-embedded
        else:
            assert after[key][:4] == old[:4] and after[key][4] == gen + 1  # died with the new generation
    new = {k: v for k, v in after.items() if k not in before}
    assert new and {v[0] for v in new.values()} == {changed.name}
    assert all(v[3] == gen + 1 and v[4] == ALIVE for v in new.values())

    view = store.open()
    assert view.manifest.counts["chunks"] == sum(1 for (k, _), v in after.items() if k == "chunks" and v[4] == ALIVE)
    hit = retrieve(view, HashingEmbedder().encode(["harbour master Pavel Ostrov"])[0],
                   terms("harbour master Pavel Ostrov"), 1)[0]
    assert "Pavel Ostrov" in view.chunk(hit.chunk).text

    changed.unlink()
    report = store.refresh(milvus, HashingEmbedder)
    assert report.removed_files == [changed.name] and report.files_indexed == 2
    live = [v for v in rows(store).values() if v[4] == ALIVE]
    assert live and changed.name not in {v[0] for v in live}
    assert store.refresh(milvus, HashingEmbedder).reason == ""  # up to date: nothing written
    store.close()


def test_a_reader_keeps_its_generation_while_a_build_publishes(milvus: Settings):
    store = MilvusStore(parse_store_uri(milvus.store.uri, milvus.index_dir))
    store.refresh(milvus, HashingEmbedder)
    reader = store.open()
    token = store.token()
    q = "Who shot the military commissioner in Ust-Ilimsk?"
    qvec = HashingEmbedder().encode([q])[0]
    seen = [reader.chunk(h.chunk).text for h in retrieve(reader, qvec, terms(q), 5)]

    target = sorted(milvus.corpus.glob("*.txt"))[0]
    target.write_text(target.read_text(encoding="utf-8").replace("Ust-Ilimsk", "Ust-Kut"), encoding="utf-8")
    store.refresh(milvus, HashingEmbedder)
    assert store.token() != token
    again = retrieve(reader, qvec, terms(q), 5)  # the old generation, untouched by the new one
    assert [reader.chunk(h.chunk).text for h in again] == seen
    fresh = store.open()
    assert not any("Ust-Ilimsk" in fresh.chunk(h.chunk).text and fresh.chunk(h.chunk).source == target.name
                   for h in retrieve(fresh, qvec, terms(q), 10))
    store.close()


def test_a_build_killed_before_publishing_leaves_the_published_index_answering(
    milvus: Settings, monkeypatch: pytest.MonkeyPatch
):
    store = MilvusStore(parse_store_uri(milvus.store.uri, milvus.index_dir))
    store.refresh(milvus, HashingEmbedder)
    before, token = rows(store), store.token()
    target = sorted(milvus.corpus.glob("*.txt"))[2]
    target.write_text("An entirely new article. The zorbulon flooded Irkutsk on Friday.\n", encoding="utf-8")

    real_put = store._put

    def die_at_publish(values: dict) -> None:
        if "head" in values:
            raise KeyboardInterrupt  # killed between writing the rows and publishing them
        real_put(values)

    monkeypatch.setattr(store, "_put", die_at_publish)
    with pytest.raises(KeyboardInterrupt):
        store.refresh(milvus, HashingEmbedder)
    monkeypatch.undo()
    assert store.token() == token
    view = store.open()
    assert view.manifest.files[target.name].size != target.stat().st_size  # still the published build
    q = "zorbulon flooded Irkutsk"
    assert not any("zorbulon" in view.chunk(h.chunk).text
                   for h in retrieve(view, HashingEmbedder().encode([q])[0], terms(q), 5))

    store.refresh(milvus, HashingEmbedder)  # the next builder drops the unpublished rows first
    after = rows(store)
    live = {k: v for k, v in after.items() if v[4] == ALIVE}
    assert {v[0] for v in live.values()} == {p.name for p in milvus.corpus.glob("*.txt")}
    assert sum(1 for v in live.values() if v[0] == target.name) == sum(
        store.open().manifest.files[target.name].model_dump()[k] for k in ("chunks", "sentences"))
    assert all(after.get(k, v) == v for k, v in before.items() if v[0] != target.name)
    store.close()


def test_a_second_builder_waits_then_is_refused_in_one_line(milvus: Settings):
    first = MilvusStore(parse_store_uri(milvus.store.uri, milvus.index_dir))
    first.refresh(milvus, HashingEmbedder)
    lease = _Lease(first, 5)
    lease.acquire()
    (milvus.corpus / "new.txt").write_text("A new article. It rained in Bratsk.\n", encoding="utf-8")
    second = MilvusStore(parse_store_uri(milvus.store.uri, milvus.index_dir))
    waited = []
    quick = with_updates(milvus, index={"lock_timeout_s": 0.5})
    with pytest.raises(IndexLockedError) as err:
        second.refresh(quick, HashingEmbedder, on_wait=lambda: waited.append(True))
    assert waited and "\n" not in str(err.value) and "another qa process is building" in str(err.value)
    lease.release()
    assert second.refresh(quick, HashingEmbedder).embedded_files == ["new.txt"]
    first.close()
    second.close()


def test_a_collection_of_another_model_is_refused_in_one_line(milvus: Settings):
    store = MilvusStore(parse_store_uri(milvus.store.uri, milvus.index_dir))
    store.refresh(milvus, HashingEmbedder)
    other = with_updates(milvus, embedding={"model": "/models/another-model"})
    with pytest.raises(IndexCorruptError) as err:
        store.refresh(other, lambda: pytest.fail("the model must not load before the refusal"))
    msg = str(err.value)
    assert "\n" not in msg and "'hashing'" in msg and "dimension 256" in msg and "--rebuild" in msg

    from qa.service import QAService

    service = QAService(other, embedder=HashingEmbedder())
    with pytest.raises(IndexCorruptError, match="built with model 'hashing'"):
        service.info()
    store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lite_server(tmp_path: Path):
    """Milvus Lite's gRPC server on loopback: the milvus:// path, as with Milvus Standalone."""
    port = _free_port()
    exe = Path(sys.executable).with_name("milvus-lite")
    proc = subprocess.Popen([str(exe), "server", "--data-dir", str(tmp_path / "srv"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def run_qa(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "QA_EMBEDDING__MODEL": "hashing"})


def test_qa_index_and_ask_through_a_milvus_server(lite_server: str, seed_corpus: Path, tmp_path: Path):
    uri = f"milvus://{lite_server}/news"
    built = run_qa("index", "--corpus", str(seed_corpus), "--store", uri, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "3 files indexed, 0 skipped" in built.stdout and uri in built.stdout
    again = run_qa("index", "--corpus", str(seed_corpus), "--store", uri, cwd=tmp_path)
    assert "index is up to date" in again.stdout
    asked = run_qa("ask", "--json", "--corpus", str(seed_corpus), "--store", uri,
                   "Who shot the military commissioner?", cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert '"passages"' in asked.stdout and "Traceback" not in asked.stderr


def test_an_unreachable_store_is_one_line_naming_its_uri(seed_corpus: Path, tmp_path: Path):
    uri = f"milvus://127.0.0.1:{_free_port()}/news"  # nothing listens there
    for args in (("index",), ("ask", "Who shot the officer?")):
        done = run_qa(*args, "--corpus", str(seed_corpus), "--store", uri, cwd=tmp_path)
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and uri in lines[0] and "unavailable" in lines[0], done.stderr


def test_milvus_lite_used_by_another_process_is_one_line(milvus: Settings, tmp_path: Path):
    store = MilvusStore(parse_store_uri(milvus.store.uri, milvus.index_dir))
    store.refresh(milvus, HashingEmbedder)  # this process holds the Lite file open
    done = run_qa("index", "--corpus", str(milvus.corpus), "--store", milvus.store.uri, cwd=tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1 and "one process at a time" in lines[0], done.stderr
    store.close()
    with pytest.raises(StoreUnavailableError, match="cannot reach Milvus at milvus://127.0.0.1:9/x"):
        open_store(with_updates(milvus, store={"uri": "milvus://127.0.0.1:9/x"})).open()
