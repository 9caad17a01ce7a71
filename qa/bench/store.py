"""Both stores side by side at scale: build throughput and warm ask latency, FolderStore vs MilvusStore.

The index holds the seed articles' real rows (so the questions find their answers) plus synthetic
rows up to ``n`` chunk vectors: texts are real chunks of the bench corpus, cycled; vectors are drawn
from the mixture of :mod:`qa.bench.scale` around real embeddings; each chunk is one sentence (so
``n`` chunk + ``n`` sentence vectors), 100 chunks to a file. Embedding is left out of the build
figure (it is the same model for both stores and measured by the throughput section): *build* is
from rows in memory to a published, searchable index (FAISS + bm25s + files for the folder;
insert + flush + index + publish for Milvus). *Ask* is ``QAService.ask`` over the question set with
the real reader, each pass in a fresh process (one warm pass, then the timed one), the two
stores' passes interleaved; each build runs in its own process too, so the stores never share memory.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from qa.bench.scale import MixtureSampler
from qa.bench.stats import median, percentile
from qa.models import Chunk, FileEntry, Sentence

PER_FILE = 100


def synthetic_rows(seed_index, pool: list[str], centres: np.ndarray, n: int, seed: int = 7):
    """(chunks, sentences, chunk vectors, sentence vectors, files): the seeds' rows, then synthetic ones up to ``n``."""
    chunks = list(seed_index.chunks)
    sentences = list(seed_index.sentences)
    c_vecs = [np.asarray(seed_index.chunk_vectors, dtype=np.float32)]
    s_vecs = [np.asarray(seed_index.sentence_vectors, dtype=np.float32)]
    files = dict(seed_index.manifest.files)
    extra = max(0, n - len(chunks))
    vecs = MixtureSampler(centres, seed=seed).sample(extra, seed=seed + 1) if extra else np.zeros((0, c_vecs[0].shape[1]),
                                                                                                 np.float32)
    c0, s0 = len(chunks), len(sentences)
    for i in range(extra):
        text = pool[i % len(pool)]
        source = f"synthetic/{i // PER_FILE:06d}.txt"
        start = (i % PER_FILE) * 10_000
        cid, sid = c0 + i, s0 + i
        chunks.append(Chunk.model_construct(id=cid, source=source, start=start, end=start + len(text), line_start=1,
                                            line_end=1, text=text, sentence_start=sid, sentence_end=sid + 1,
                                            n_tokens=len(text) // 5))
        sentences.append(Sentence.model_construct(id=sid, source=source, start=start, end=start + len(text),
                                                  line_start=1, line_end=1, text=text, chunk=cid, paragraph=0))
    for f in range(0, extra, PER_FILE):
        k = min(PER_FILE, extra - f)
        files[f"synthetic/{f // PER_FILE:06d}.txt"] = FileEntry(sha256="0" * 64, size=0, mtime_ns=0, chunks=k,
                                                                  sentences=k)
    c_vecs.append(vecs)
    s_vecs.append(vecs)
    return chunks, sentences, np.concatenate(c_vecs), np.concatenate(s_vecs), files


def build_folder(settings, manifest, chunks, sentences, c_vecs, s_vecs) -> float:
    from qa.index import folder
    from qa.index.lexical import BM25Index

    t0 = time.perf_counter()
    kind = folder.choose_index_type(len(chunks), settings.index.ann_min_vectors)
    s_kind = folder.choose_index_type(len(sentences), settings.index.ann_min_vectors)
    chunk_search = folder.VectorIndex.build(c_vecs, kind, settings.index.ivf_nprobe)
    sentence_search = folder.VectorIndex.build(s_vecs, s_kind, settings.index.ivf_nprobe)
    bm25 = BM25Index.build([c.text for c in chunks])
    folder.write_build(settings.index_dir, manifest.build_id, manifest.model_copy(update={"index_type": kind}),
                       chunks, sentences, c_vecs, s_vecs, chunk_search, sentence_search, bm25)
    return time.perf_counter() - t0


def build_milvus(settings, manifest, chunks, sentences, c_vecs, s_vecs) -> float:
    from qa.index.store import open_store

    store = open_store(settings)
    t0 = time.perf_counter()
    store.publish_rows(settings, manifest, chunks, sentences, c_vecs, s_vecs)
    store.open()  # searchable
    seconds = time.perf_counter() - t0
    store.close()
    return seconds


def _rows_and_manifest(settings, seeds_index_dir: Path, pool: list[str], centres: np.ndarray, n: int):
    from qa.index import folder
    from qa.index.build import new_manifest
    from qa.runtime.embedder import make_embedder

    seed_index = folder.load_build(folder.current_build(seeds_index_dir))
    chunks, sentences, c_vecs, s_vecs, files = synthetic_rows(seed_index, pool, centres, n)
    embedder = make_embedder(settings.embedding)
    manifest = new_manifest(settings, embedder, embedder.fingerprint(), "flat", files, [], len(chunks),
                            len(sentences), folder.FORMAT_VERSION)
    return manifest, chunks, sentences, c_vecs, s_vecs


def _build_child(kind: str, settings, seeds_index_dir: Path, pool: list[str], centres: np.ndarray,
                 n: int) -> tuple[float, int]:
    """In a child process: the rows, then one store built from them -> (seconds, rows)."""
    manifest, chunks, sentences, c_vecs, s_vecs = _rows_and_manifest(settings, seeds_index_dir, pool, centres, n)
    build = build_folder if kind == "folder" else build_milvus
    return build(settings, manifest, chunks, sentences, c_vecs, s_vecs), len(chunks) + len(sentences)


def _ask_child(settings, questions) -> tuple[float, list[float]]:
    """In a child process: open the store (timed: a reader's first open), one warm pass (lazy
    imports, the reader, Milvus's loaded segments), then the timed pass on a second service that
    shares the loaded models but not the first one's answer cache -> (open seconds, ms per question)."""
    from qa.bench.pipeline import timed_asks
    from qa.service import QAService

    warm = QAService(settings)
    t0 = time.perf_counter()
    warm.info()  # opens the store: loads the folder / opens Milvus
    open_s = time.perf_counter() - t0
    timed_asks(warm, questions)  # the warm pass, not reported
    warm.store.close()  # one store in memory at a time
    service = QAService(settings, embedder=warm.embedder, reader=warm.neural_reader)
    service.info()
    out_times = timed_asks(service, questions)
    service.store.close()
    return open_s, out_times


def _in_child(fn, *args):
    """``fn(*args)`` in a fresh process: a store's memory (the folder loaded whole, Milvus Lite's
    engine) is returned when it ends, so the two stores never share one process's memory (at 1M
    chunks both together exceed a 24 GB machine) and each ask pass starts as a new reader does."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(fn, *args).result()


def store_section(settings, seeds_index_dir: Path, pool: list[str], centres: np.ndarray,
                  sizes: tuple[int, ...], questions, repeats: int, work: Path, log) -> dict:
    """Each size's figures are logged as soon as they are measured, so a long run keeps what it measured.
    Every build and every ask pass runs in its own process (``_in_child``), with its own embedder."""
    from qa.config import with_updates

    out: dict = {}
    for n in sizes:
        log(f"store: {n:,} chunk vectors (+ as many sentence vectors), folder vs milvus-lite, each in its own process")
        f_settings = with_updates(settings, index_dir=work / f"store-folder-{n}", store={"uri": ""})
        m_settings = with_updates(settings, index_dir=work / f"store-folder-{n}",
                                  store={"uri": f"milvus-lite:{work / f'store-milvus-{n}'}/qa.db"})
        services = {"folder": f_settings, "milvus": m_settings}
        built: dict[str, tuple[float, int]] = {}
        for key, s in services.items():
            built[key] = _in_child(_build_child, key, s, seeds_index_dir, pool, centres, n)
            log(f"  {key} built in {built[key][0]:.1f} s")
        times: dict[str, dict[str, list[float]]] = {k: {"p50": [], "p95": [], "open": []} for k in services}
        for _ in range(repeats):
            for key, s in services.items():
                open_s, t = _in_child(_ask_child, s, questions)
                times[key]["p50"].append(percentile(t, 50))
                times[key]["p95"].append(percentile(t, 95))
                times[key]["open"].append(open_s)
        rows = built["folder"][1]
        out[str(n)] = {"chunks": n, "rows": rows, "questions": len(questions), "repeats": repeats}
        for key in services:
            b = built[key][0]
            out[str(n)][key] = {"build_s": b, "build_rows_per_s": rows / b, "open_s": median(times[key]["open"]),
                                "ask_ms_p50": median(times[key]["p50"]), "ask_ms_p95": median(times[key]["p95"])}
        out[str(n)]["milvus_over_folder_ask_p50"] = out[str(n)]["milvus"]["ask_ms_p50"] / out[str(n)]["folder"]["ask_ms_p50"]
        log(f"  {n:,}: {json.dumps(out[str(n)])}")
    return out
