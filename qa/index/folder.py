"""The index on disk. The only module that imports faiss.

Layout of ``index/``::

    CURRENT              name of the live build (replaced atomically)
    .lock                held by the process that is building
    b-<id>/              one complete build, never modified after it is published
        manifest.json    IndexManifest + sizes/hashes of the files below
        chunks.jsonl     one Chunk per line, row = id
        sentences.jsonl  one Sentence per line, row = id
        chunk_vectors.npy, sentence_vectors.npy   float32, L2-normalised rows
        chunks.faiss, sentences.faiss             inner-product index over those rows
        bm25/            bm25s score matrix (.npy) and vocabulary (JSON)

A build is written into ``.tmp-<id>/`` beside the others, renamed to ``b-<id>/``
and only then named in CURRENT, so a crash at any point leaves the previous build
live. Nothing is pickled.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from qa.errors import IndexCorruptError
from qa.hashing import file_sha256
from qa.index.lexical import BM25Index
from qa.models import Chunk, IndexManifest, Sentence

FORMAT_VERSION = 1
CURRENT = "CURRENT"
HASHED = ("chunks.jsonl", "sentences.jsonl")
SIZED = ("chunk_vectors.npy", "sentence_vectors.npy", "chunks.faiss", "sentences.faiss")


@dataclass
class LoadedIndex:
    folder: Path
    manifest: IndexManifest
    chunks: list[Chunk]
    sentences: list[Sentence]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    chunk_search: "VectorIndex"
    sentence_search: "VectorIndex"
    bm25: BM25Index
    _lexical: tuple[tuple[str, ...], np.ndarray] | None = None

    # -- the read view (qa.index.store.IndexView) --------------------------------------

    @property
    def token(self) -> str:
        return self.folder.name

    @property
    def n_chunks(self) -> int:
        return len(self.chunks)

    def chunk(self, cid: int) -> Chunk:
        return self.chunks[cid]

    def sentence(self, sid: int) -> Sentence:
        return self.sentences[sid]

    def sentence_range(self, first: int, last: int) -> list[Sentence]:
        return self.sentences[first:last]

    def vectors_of_chunks(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(self.chunk_vectors[np.asarray(ids, dtype=np.int64)], dtype=np.float32)

    def vectors_of_sentences(self, first: int, last: int) -> np.ndarray:
        return np.asarray(self.sentence_vectors[first:last], dtype=np.float32)

    def prefetch(self, chunk_ids) -> None:
        """Everything is in memory already."""

    def search_chunks(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self.chunk_search.search(q.reshape(1, -1), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def search_sentences(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids): the chunk of each of the ``k`` sentences nearest to ``q``."""
        scores, ids = self.sentence_search.search(q.reshape(1, -1), k)
        keep = ids[0] >= 0
        chunks = np.fromiter((self.sentences[int(s)].chunk for s in ids[0][keep]), dtype=np.int64)
        return scores[0][keep], chunks

    def _bm25(self, query_terms) -> np.ndarray:
        key = tuple(query_terms)
        if self._lexical is None or self._lexical[0] != key:
            self._lexical = (key, self.bm25.scores(list(key)))
        return self._lexical[1]

    def bm25_top(self, query_terms, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, BM25 scores) of the ``k`` best lexical matches with a score above 0, best first."""
        bm = self._bm25(query_terms)
        top = np.argsort(-bm)[:k]
        top = top[bm[top] > 0]
        return top.astype(np.int64), bm[top]

    def bm25_of(self, query_terms, ids: np.ndarray) -> np.ndarray:
        """BM25 scores of the given chunks (0 where no query term occurs)."""
        return self._bm25(query_terms)[np.asarray(ids, dtype=np.int64)]


class VectorIndex:
    """Inner-product search over normalised vectors: exact (flat) or IVF above a size."""

    def __init__(self, index, nprobe: int = 0) -> None:
        self.index = index
        self.ntotal = int(index.ntotal)
        self.d = int(index.d)
        if nprobe:
            self.set_nprobe(nprobe)

    def set_nprobe(self, nprobe: int) -> None:
        import faiss

        ivf = faiss.try_extract_index_ivf(self.index)
        if ivf is not None:
            ivf.nprobe = nprobe

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str, nprobe: int = 0) -> VectorIndex:
        import faiss

        n, d = vectors.shape
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif kind == "ivf":
            nlist = ivf_lists(n)
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            train = vectors if n <= nlist * 64 else vectors[rng.choice(n, nlist * 64, replace=False)]
            index.train(train)
        else:
            raise ValueError(f"unknown index type {kind!r}")
        index.add(vectors)
        return cls(index, nprobe or default_nprobe(n))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.ntotal)
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        scores, ids = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, nprobe: int = 0) -> VectorIndex:
        import faiss

        index = faiss.read_index(str(path))
        return cls(index, nprobe or default_nprobe(int(index.ntotal)))


def ivf_lists(n: int) -> int:
    """IVF list count: about 4 * sqrt(n), at least 1 list per 39 training points."""
    return max(1, min(int(4 * n**0.5), n // 39 or 1))


def default_nprobe(n: int) -> int:
    return max(8, ivf_lists(n) // 64)


def choose_index_type(n_vectors: int, ann_min_vectors: int) -> str:
    return "ivf" if n_vectors >= ann_min_vectors else "flat"


# --- publishing -----------------------------------------------------------------------


def current_build(index_dir: Path) -> Path | None:
    """Folder of the live build, or None when there is none."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {index_dir / CURRENT}: {exc.strerror}") from None
    if not name.startswith("b-") or "/" in name:
        raise IndexCorruptError(f"{index_dir / CURRENT} names no build ({name[:40]!r}); run `qa index --rebuild`")
    return index_dir / name


def current_token(index_dir: Path) -> str | None:
    """A cheap token that changes whenever a new build is published."""
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def write_build(
    index_dir: Path,
    build_id: str,
    manifest: IndexManifest,
    chunks: list[Chunk],
    sentences: list[Sentence],
    chunk_vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    chunk_search: VectorIndex,
    sentence_search: VectorIndex,
    bm25: BM25Index,
) -> Path:
    """Write a complete build into a temporary folder, then publish it atomically."""
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = index_dir / f".tmp-{build_id}"
    final = index_dir / f"b-{build_id}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    _write_jsonl(tmp / "chunks.jsonl", chunks)
    _write_jsonl(tmp / "sentences.jsonl", sentences)
    np.save(tmp / "chunk_vectors.npy", chunk_vectors, allow_pickle=False)
    np.save(tmp / "sentence_vectors.npy", sentence_vectors, allow_pickle=False)
    chunk_search.save(tmp / "chunks.faiss")
    sentence_search.save(tmp / "sentences.faiss")
    bm25.save(tmp / "bm25")
    names = (*HASHED, *SIZED, *(f"bm25/{p.name}" for p in sorted((tmp / "bm25").iterdir())))
    files = {name: {"bytes": (tmp / name).stat().st_size} for name in names}
    for name in HASHED:
        files[name]["sha256"] = file_sha256(tmp / name)
    payload = manifest.model_dump(mode="json") | {"index_files": files}
    _write_text(tmp / "manifest.json", json.dumps(payload, indent=2, sort_keys=True))
    for path in tmp.rglob("*"):
        if path.is_file():
            _fsync(path)
    os.rename(tmp, final)
    _fsync_dir(index_dir)
    pointer = index_dir / f".{CURRENT}.{build_id}"
    _write_text(pointer, final.name + "\n")
    os.replace(pointer, index_dir / CURRENT)
    _fsync_dir(index_dir)
    return final


def remove_stale(index_dir: Path, keep: Path | None) -> None:
    """Delete unfinished temporary builds and builds that are no longer live (call under the lock)."""
    if not index_dir.is_dir():
        return
    for entry in index_dir.iterdir():
        stale_build = entry.name.startswith("b-") and (keep is None or entry.name != keep.name)
        if entry.name.startswith(".tmp-") or stale_build:
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{CURRENT}."):
            entry.unlink(missing_ok=True)


# --- loading --------------------------------------------------------------------------


def read_manifest(folder: Path) -> tuple[IndexManifest, dict]:
    """Parse and check a build's manifest; raise IndexCorruptError naming the problem."""
    path = folder / "manifest.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(f"index build {folder.name} has no manifest.json") from None
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"index manifest {path} is unreadable ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise IndexCorruptError(f"index manifest {path} is not a JSON object")
    version = raw.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise IndexCorruptError(
            f"index format v{version} is newer than this qa understands (v{FORMAT_VERSION}); "
            "upgrade qa or run `qa index --rebuild`"
        )
    if version != FORMAT_VERSION:
        raise IndexCorruptError(f"index format {version!r} is not v{FORMAT_VERSION}; run `qa index --rebuild`")
    files = raw.pop("index_files", None)
    if not isinstance(files, dict):
        raise IndexCorruptError(f"index manifest {path} lists no index files")
    try:
        manifest = IndexManifest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise IndexCorruptError(
            f"index manifest {path} is invalid at {'.'.join(map(str, err['loc']))}: {err['msg']}"
        ) from None
    return manifest, files


def verify_build(folder: Path) -> IndexManifest:
    """Cheap integrity check: every file present with its recorded size, metadata hashes match,
    vector matrices of the shape the manifest gives."""
    manifest, files = read_manifest(folder)
    bm25_files = [name for name in files if name.startswith("bm25/")]  # recorded since bm25 damage went unseen
    for name in (*HASHED, *SIZED, *bm25_files):
        path = folder / name
        info = files.get(name) or {}
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise IndexCorruptError(f"index file {name} is missing from {folder}") from None
        if size != info.get("bytes"):
            raise IndexCorruptError(f"index file {name} has {size} bytes, expected {info.get('bytes')} (truncated?)")
        if "sha256" in info and file_sha256(path) != info["sha256"]:
            raise IndexCorruptError(f"index file {name} was modified after the build (checksum mismatch)")
    if not (folder / "bm25" / "params.index.json").is_file():
        raise IndexCorruptError(f"index folder {folder / 'bm25'} is missing")
    for name, rows in (("chunk_vectors.npy", "chunks"), ("sentence_vectors.npy", "sentences")):
        shape, want = _npy_shape(folder / name), (manifest.counts.get(rows), manifest.dimension)
        if shape != want:
            raise IndexCorruptError(
                f"index file {name} has shape {shape}, manifest says {want} (dimension or count); "
                "run `qa index --rebuild`"
            )
    return manifest


def _npy_shape(path: Path) -> tuple:
    """Shape from a .npy header, without reading the data."""
    fmt = np.lib.format
    try:
        with path.open("rb") as fh:
            major, _ = fmt.read_magic(fh)
            shape, _, _ = (fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0)(fh)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"index file {path.name} is unreadable ({type(exc).__name__})") from None
    return tuple(shape)


def load_build(folder: Path, nprobe: int = 0) -> LoadedIndex:
    manifest = verify_build(folder)
    try:
        chunks = _read_jsonl(folder / "chunks.jsonl", Chunk)
        sentences = _read_jsonl(folder / "sentences.jsonl", Sentence)
        chunk_vectors = np.load(folder / "chunk_vectors.npy", allow_pickle=False, mmap_mode="r")
        sentence_vectors = np.load(folder / "sentence_vectors.npy", allow_pickle=False, mmap_mode="r")
        chunk_search = VectorIndex.load(folder / "chunks.faiss", nprobe)
        sentence_search = VectorIndex.load(folder / "sentences.faiss", nprobe)
        bm25 = BM25Index.load(folder / "bm25")
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise IndexCorruptError(f"index in {folder} cannot be read ({reason}); run `qa index --rebuild`") from None
    dim = manifest.dimension
    expect = {
        "chunk vectors": (chunk_vectors.shape, (len(chunks), dim)),
        "sentence vectors": (sentence_vectors.shape, (len(sentences), dim)),
        "chunk FAISS index": ((chunk_search.ntotal, chunk_search.d), (len(chunks), dim)),
        "sentence FAISS index": ((sentence_search.ntotal, sentence_search.d), (len(sentences), dim)),
        "BM25 index": ((bm25.n_docs,), (len(chunks),)),
        "chunk count": ((len(chunks),), (manifest.counts.get("chunks"),)),
        "sentence count": ((len(sentences),), (manifest.counts.get("sentences"),)),
    }
    for what, (got, want) in expect.items():
        if tuple(got) != tuple(want):
            raise IndexCorruptError(f"index {what} has shape {got}, manifest says {want}; run `qa index --rebuild`")
    return LoadedIndex(
        folder, manifest, chunks, sentences, chunk_vectors, sentence_vectors, chunk_search, sentence_search, bm25
    )


def _read_jsonl(path: Path, model):
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            try:
                row = model.model_validate_json(line)
            except ValidationError:
                raise IndexCorruptError(f"index file {path.name} line {n} is damaged; run `qa index --rebuild`") from None
            if row.id != len(rows):
                raise IndexCorruptError(f"index file {path.name} line {n} is out of order; run `qa index --rebuild`")
            rows.append(row)
    return rows


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row.model_dump_json())
            fh.write("\n")


def _write_text(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        _fsync(path)
    except OSError:
        pass
