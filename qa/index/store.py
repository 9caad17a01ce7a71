"""The store seam: where vectors, texts and BM25 live, behind one read view and one writer.

Retrieval, the answering pipeline and its sentence windows read the index only through
:class:`IndexView`; building goes through a store's ``refresh``. Two stores exist:

- ``FolderStore`` (:mod:`qa.index.folder`, the embedded default): FAISS + bm25s + JSONL in
  ``index/b-*/``, loaded whole into the process;
- ``MilvusStore`` (:mod:`qa.index.milvus`): a Milvus collection per index (dense vectors,
  Milvus's BM25 function over the terms, the metadata), reached over gRPC
  (``milvus://HOST:PORT[/COLLECTION]``) or in-process (``milvus-lite:PATH``).

Only the modules of :mod:`qa.index` import faiss, bm25s or pymilvus.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from qa.errors import IndexCorruptError
from qa.index.uri import StoreURI, parse_store_uri
from qa.models import Chunk, IndexManifest, Sentence

__all__ = ["FolderStore", "IndexView", "Store", "StoreURI", "open_store", "parse_store_uri"]


@runtime_checkable
class IndexView(Protocol):
    """One published build, as retrieval and the pipeline read it. Chunk and sentence ids are the
    store's own (dense row numbers in a folder, stable per-file blocks in Milvus); a chunk's
    sentences are the ids ``chunk.sentence_start .. chunk.sentence_end - 1``."""

    manifest: IndexManifest

    @property
    def token(self) -> str:
        """Changes whenever another build is published."""
        ...

    @property
    def n_chunks(self) -> int: ...

    def chunk(self, cid: int) -> Chunk: ...

    def sentence(self, sid: int) -> Sentence: ...

    def sentence_range(self, first: int, last: int) -> list[Sentence]: ...

    def vectors_of_chunks(self, ids: np.ndarray) -> np.ndarray: ...

    def vectors_of_sentences(self, first: int, last: int) -> np.ndarray: ...

    def prefetch(self, chunk_ids: Sequence[int]) -> None:
        """Fetch these chunks, their sentences and vectors in one round trip (a hint; may do nothing)."""
        ...

    def search_chunks(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(inner products, chunk ids) of the ``k`` chunks nearest to the normalised query ``q``."""
        ...

    def search_sentences(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(inner products, chunk ids) of the ``k`` sentences nearest to ``q``: the chunk of each."""
        ...

    def bm25_top(self, query_terms: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, BM25 scores) of the best lexical matches (score above 0), best first."""
        ...

    def bm25_of(self, query_terms: Sequence[str], ids: np.ndarray) -> np.ndarray:
        """BM25 scores of the given chunks, on the same scale as ``bm25_top``."""
        ...


class Store(Protocol):
    """Where one index is built and published, and read back."""

    uri: StoreURI

    def token(self) -> str | None:
        """Cheap: changes whenever a new build is published (None: nothing published)."""
        ...

    def open(self) -> IndexView:
        """The published build. IndexCorruptError when there is none or it is damaged."""
        ...

    def refresh(self, settings, embedder_factory, progress=None, force: bool = False, on_wait=None):
        """Bring the index up to date with the corpus (only changed files embedded); a BuildReport."""
        ...

    def close(self) -> None: ...


class FolderStore:
    """The embedded default: the index folder (``index/``), unchanged on disk."""

    def __init__(self, uri: StoreURI, nprobe: int = 0) -> None:
        self.uri = uri
        self.folder = Path(uri.address)
        self.nprobe = nprobe

    def token(self) -> str | None:
        from qa.index import folder

        return folder.current_token(self.folder)

    def open(self) -> IndexView:
        from qa.index import folder

        for attempt in range(3):
            build = folder.current_build(self.folder)
            if build is None:
                raise IndexCorruptError(f"no index in {self.folder}; run `qa index`")
            try:
                return folder.load_build(build, self.nprobe)
            except IndexCorruptError:
                # Another process may have published a newer build and removed this one while we read it.
                if attempt == 2 or folder.current_token(self.folder) == build.name:
                    raise
        raise AssertionError("unreachable")

    def refresh(self, settings, embedder_factory, progress=None, force: bool = False, on_wait=None):
        from qa.index.build import refresh

        return refresh(settings, embedder_factory, progress, force=force, on_wait=on_wait)

    def close(self) -> None:
        pass


def open_store(settings) -> Store:
    """The store ``settings.store.uri`` names (the index folder by default)."""
    uri = parse_store_uri(settings.store.uri, settings.index_dir)
    if uri.kind == "folder":
        return FolderStore(uri, settings.index.ivf_nprobe)
    from qa.index.milvus import MilvusStore

    return MilvusStore(uri)
