from __future__ import annotations

import json

import numpy as np
import pytest

from qa.config import Settings, with_updates
from qa.errors import IndexCorruptError
from qa.index import folder as store
from qa.index.build import plan, refresh
from qa.index.lexical import terms
from qa.retrieval.retrieve import retrieve
from qa.runtime.embedder import HashingEmbedder


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def encode(self, texts, batch_size=64, progress=None):
        self.seen.extend(texts)
        return super().encode(texts, batch_size, progress)


def build(settings: Settings, embedder=None, force=False):
    embedder = embedder or CountingEmbedder()
    return refresh(settings, lambda: embedder, force=force), embedder


def live(settings: Settings) -> store.LoadedIndex:
    return store.load_build(store.current_build(settings.index_dir))


def test_build_writes_manifest_and_metadata_without_pickle(hashing: Settings):
    report, _ = build(hashing)
    assert report.files_indexed == 3 and report.chunks > 0 and report.sentences > report.chunks
    folder = store.current_build(hashing.index_dir)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format_version"] == store.FORMAT_VERSION
    assert manifest["model"] == "hashing" and manifest["dimension"] == 256
    assert manifest["chunking"] == {"max_tokens": 256, "overlap_sentences": 1}
    assert set(manifest["files"]) == {p.name for p in hashing.corpus.glob("*.txt")}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert manifest["counts"]["chunks"] == report.chunks
    assert {"faiss-cpu", "numpy"} <= set(manifest["versions"])
    np.load(folder / "chunk_vectors.npy", allow_pickle=False)  # would raise on pickled data


def test_round_trip_search_gives_the_same_results(hashing: Settings):
    _, emb = build(hashing)
    index = live(hashing)
    q = "Who shot the military commissioner in Ust-Ilimsk?"
    qvec = emb.encode([q])[0]
    first = retrieve(index, qvec, terms(q), 5)
    again = retrieve(live(hashing), qvec, terms(q), 5)
    assert [h.chunk for h in first] == [h.chunk for h in again]
    # exact search agrees with brute force over the saved vectors
    brute = np.argsort(-(np.asarray(index.chunk_vectors) @ qvec))[:3]
    _, ids = index.chunk_search.search(qvec[None, :], 3)
    assert list(ids[0]) == list(brute)
    for c in index.chunks:
        text = (hashing.corpus / c.source).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.text


def test_unchanged_corpus_embeds_nothing(hashing: Settings):
    build(hashing)
    report, emb = build(hashing)
    assert emb.seen == [] and report.texts_embedded == 0 and report.reason == ""


def test_editing_one_file_reembeds_only_that_file(hashing: Settings):
    build(hashing)
    before = live(hashing)
    edited = sorted(hashing.corpus.glob("*.txt"))[0]
    edited.write_text(edited.read_text() + "\n\nA new closing sentence about the border.\n")
    report, emb = build(hashing)
    assert report.embedded_files == [edited.name]
    assert report.reused_files == 2
    after = live(hashing)
    assert {c.source for c in after.chunks} == {c.source for c in before.chunks}
    assert all(t in edited.read_text() for t in emb.seen)  # only the edited file's texts were embedded
    # reused vectors still belong to their chunks
    fresh = HashingEmbedder().encode([c.text for c in after.chunks])
    assert np.allclose(np.asarray(after.chunk_vectors), fresh, atol=1e-6)
    for s in after.sentences:
        assert after.chunks[s.chunk].start <= s.start and s.end <= after.chunks[s.chunk].end


def test_removing_a_file_drops_its_chunks(hashing: Settings):
    build(hashing)
    gone = sorted(hashing.corpus.glob("*.txt"))[1]
    gone.unlink()
    report, emb = build(hashing)
    assert report.removed_files == [gone.name] and emb.seen == []
    assert gone.name not in {c.source for c in live(hashing).chunks}


def test_touching_a_file_without_changing_it_embeds_nothing(hashing: Settings):
    build(hashing)
    f = sorted(hashing.corpus.glob("*.txt"))[0]
    f.write_bytes(f.read_bytes())  # new mtime, same content
    report, emb = build(hashing)
    assert emb.seen == [] and report.reason == ""


def test_model_or_chunking_change_rebuilds_everything(hashing: Settings):
    build(hashing)
    changed = with_updates(hashing, chunking={"max_tokens": 64})
    assert "chunking" in plan(changed).reason
    report, emb = build(changed)
    assert report.full_rebuild and len(emb.seen) == report.chunks + report.sentences


def test_failed_build_leaves_previous_index_live(hashing: Settings, monkeypatch):
    build(hashing)
    old = store.current_build(hashing.index_dir)
    (hashing.corpus / "new.txt").write_text("A brand new article about something else entirely.")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store.VectorIndex, "save", boom)
    with pytest.raises(OSError):
        build(hashing)
    assert store.current_build(hashing.index_dir) == old
    assert "new.txt" not in {c.source for c in live(hashing).chunks}
    monkeypatch.undo()
    report, _ = build(hashing)
    assert report.embedded_files == ["new.txt"]
    assert not list(hashing.index_dir.glob(".tmp-*"))


def test_damaged_metadata_is_detected_and_rebuilt(hashing: Settings):
    build(hashing)
    folder = store.current_build(hashing.index_dir)
    path = folder / "chunks.jsonl"
    path.write_text(path.read_text().replace("Zinin", "Zonin"))
    with pytest.raises(IndexCorruptError, match="chunks.jsonl"):
        live(hashing)
    assert "damaged" in plan(hashing).reason
    report, _ = build(hashing)
    assert report.full_rebuild
    assert any("Zinin" in c.text for c in live(hashing).chunks)


def test_ivf_is_chosen_above_the_configured_size(hashing: Settings):
    small_threshold = with_updates(hashing, index={"ann_min_vectors": 5})
    build(small_threshold)
    index = live(small_threshold)
    assert index.manifest.index_type == "ivf"
    q = HashingEmbedder().encode(["Ruslan Zinin shot the commissioner"])[0]
    assert retrieve(index, q, terms("Ruslan Zinin"), 3)
