"""Both stores side by side at scale: build throughput and warm ask latency, FolderStore vs MilvusStore.

The index holds the seed articles' real rows (so the questions find their answers) plus synthetic
rows up to ``n`` chunk vectors: texts are real chunks of the bench corpus, cycled; vectors are drawn
from the mixture of :mod:`qa.bench.scale` around real embeddings; each chunk is one sentence (so
``n`` chunk + ``n`` sentence vectors), 100 chunks to a file. Embedding is left out of the build
figure (it is the same model for both stores and measured by the throughput section): *build* is
from rows in memory to a published, searchable index (FAISS + bm25s + files for the folder;
insert + flush + index + publish for Milvus). *Ask* is ``QAService.ask`` over the question set with
the real reader, each pass a fresh service, the two stores' passes interleaved.
"""

from __future__ import annotations

import gc
import json
import time
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


def store_section(settings, embedder, seeds_index_dir: Path, pool: list[str], centres: np.ndarray,
                  sizes: tuple[int, ...], questions, repeats: int, work: Path, log) -> dict:
    """Each size's figures are logged as soon as they are measured, so a long run keeps what it measured."""
    from qa.config import with_updates
    from qa.index import folder
    from qa.index.build import new_manifest
    from qa.service import QAService

    seed_index = folder.load_build(folder.current_build(seeds_index_dir))
    out: dict = {}
    for n in sizes:
        log(f"store: {n:,} chunk vectors (+ as many sentence vectors), folder vs milvus-lite")
        chunks, sentences, c_vecs, s_vecs, files = synthetic_rows(seed_index, pool, centres, n)
        manifest = new_manifest(settings, embedder, embedder.fingerprint(), "flat", files, [], len(chunks),
                                len(sentences), folder.FORMAT_VERSION)
        f_settings = with_updates(settings, index_dir=work / f"store-folder-{n}", store={"uri": ""})
        m_settings = with_updates(settings, index_dir=work / f"store-folder-{n}",
                                  store={"uri": f"milvus-lite:{work / f'store-milvus-{n}'}/qa.db"})
        rows = len(chunks) + len(sentences)
        fb = build_folder(f_settings, manifest, chunks, sentences, c_vecs, s_vecs)
        log(f"  folder built in {fb:.1f} s")
        mb = build_milvus(m_settings, manifest, chunks, sentences, c_vecs, s_vecs)
        log(f"  milvus-lite built in {mb:.1f} s")
        del chunks, sentences, c_vecs, s_vecs
        gc.collect()

        services = {"folder": f_settings, "milvus": m_settings}
        times: dict[str, dict[str, list[float]]] = {k: {"p50": [], "p95": []} for k in services}
        load_s: dict[str, float] = {}

        def one_pass(key: str, s, load_s: dict[str, float] = load_s) -> list[float]:
            service = QAService(s, embedder=embedder)
            t0 = time.perf_counter()
            service.info()  # opens the store: loads the folder / connects to Milvus
            load_s.setdefault(key, time.perf_counter() - t0)
            out_times = []
            for question, history in questions:
                t = time.perf_counter()
                service.ask(question, history)
                out_times.append((time.perf_counter() - t) * 1000.0)
            service.store.close()
            return out_times

        for key, s in services.items():
            one_pass(key, s)  # warm: lazy imports, the reader, Milvus's loaded segments
        for _ in range(repeats):
            for key, s in services.items():
                t = one_pass(key, s)
                times[key]["p50"].append(percentile(t, 50))
                times[key]["p95"].append(percentile(t, 95))
        out[str(n)] = {
            "chunks": n, "rows": rows, "questions": len(questions), "repeats": repeats,
            "folder": {"build_s": fb, "build_rows_per_s": rows / fb, "open_s": load_s["folder"],
                       "ask_ms_p50": median(times["folder"]["p50"]), "ask_ms_p95": median(times["folder"]["p95"])},
            "milvus": {"build_s": mb, "build_rows_per_s": rows / mb, "open_s": load_s["milvus"],
                       "ask_ms_p50": median(times["milvus"]["p50"]), "ask_ms_p95": median(times["milvus"]["p95"])},
        }
        out[str(n)]["milvus_over_folder_ask_p50"] = out[str(n)]["milvus"]["ask_ms_p50"] / out[str(n)]["folder"]["ask_ms_p50"]
        log(f"  {n:,}: {json.dumps(out[str(n)])}")
        gc.collect()
    return out
