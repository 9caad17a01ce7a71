"""The vector index at scale, on synthetic vectors shaped like sentence embeddings.

Data: a mixture of Gaussians around real sentence embeddings (the bench corpus's chunk
and sentence vectors). ``TOPICS`` topic centres are mixes of two real embeddings
(``w*a + (1-w)*b``, w in 0.3..1, so topics form a continuum rather than a few far-apart
blobs); each point is a topic + isotropic noise, normalised. With this noise a query's
nearest neighbour has cosine ~0.64 at 100,000 points (real texts of the bench corpus:
0.69 among 875 texts), and the 10 nearest are close together, which is the hard case
for IVF. Queries are held-out points drawn the same way, never members of the index.

Measured for the index type the project chooses at that size
(:func:`qa.index.choose_index_type`, built by :meth:`qa.index.VectorIndex.build`):
build time, single-query search latency (k=10, the way ``ask`` searches: one query at a
time), recall@10 against exact inner-product search, and the serialised index size.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass

import numpy as np

from qa.bench.stats import median, percentile, recall_at_k

TOPICS = 32_768  # topic centres, each a mix of two real embeddings
POINT_NOISE = 0.8  # expected norm of a point's offset from its topic (topics have norm 1)
N_QUERIES = 200
K = 10
_BLOCK = 65_536


@dataclass
class ScaleResult:
    n: int
    index_type: str
    nlist: int
    nprobe: int
    build_s: float
    search_ms_p50: float
    search_ms_p95: float
    exact_search_ms_p50: float
    recall_at_10_vs_exact: float
    index_mb: float
    raw_mb: float

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "index_type": self.index_type,
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "build_s": self.build_s,
            "search_ms_p50": self.search_ms_p50,
            "search_ms_p95": self.search_ms_p95,
            "exact_search_ms_p50": self.exact_search_ms_p50,
            "recall_at_10_vs_exact": self.recall_at_10_vs_exact,
            "index_mb": self.index_mb,
            "raw_mb": self.raw_mb,
            "index_over_raw": self.index_mb / self.raw_mb if self.raw_mb else math.nan,
        }


class MixtureSampler:
    """Draws normalised points from the two-level mixture around ``centres``."""

    def __init__(self, centres: np.ndarray, seed: int = 0) -> None:
        centres = np.asarray(centres, dtype=np.float32)
        if centres.ndim != 2 or len(centres) == 0:
            raise ValueError("need at least one centre vector")
        self.d = centres.shape[1]
        rng = np.random.default_rng(seed)
        centres = _normalise(centres.copy())
        a = centres[rng.integers(len(centres), size=TOPICS)]
        b = centres[rng.integers(len(centres), size=TOPICS)]
        w = rng.uniform(0.3, 1.0, size=(TOPICS, 1)).astype(np.float32)
        self.topics = _normalise(w * a + (1 - w) * b)

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.d), dtype=np.float32)
        for lo in range(0, n, _BLOCK):
            hi = min(lo + _BLOCK, n)
            block = self.topics[rng.integers(len(self.topics), size=hi - lo)]
            block += _gaussian(rng, block.shape, POINT_NOISE)
            out[lo:hi] = _normalise(block)
        return out


def _gaussian(rng: np.random.Generator, shape: tuple[int, int], norm: float) -> np.ndarray:
    """Isotropic noise whose rows have expected norm ``norm``."""
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(norm / math.sqrt(shape[1]))


def _normalise(x: np.ndarray) -> np.ndarray:
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def serialised_bytes(faiss_index) -> int:
    """Bytes ``faiss.write_index`` writes for this index, counted without touching the disk."""
    import faiss

    total = 0

    def count(chunk: bytes) -> int:
        nonlocal total
        total += len(chunk)
        return len(chunk)

    writer = faiss.PyCallbackIOWriter(count)
    faiss.write_index(faiss_index, writer)
    del writer
    return total


def exact_neighbours(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    import faiss

    _, ids = faiss.knn(queries, data, k, metric=faiss.METRIC_INNER_PRODUCT)
    return ids


def run_scale(n: int, centres: np.ndarray, ann_min_vectors: int, nprobe: int = 0, seed: int = 1) -> ScaleResult:
    """Build the project's index for ``n`` synthetic vectors and measure it."""
    import faiss

    from qa.index import folder as store

    sampler = MixtureSampler(centres, seed=seed)
    data = sampler.sample(n, seed=seed + 1)
    queries = sampler.sample(N_QUERIES, seed=seed + 2)
    kind = store.choose_index_type(n, ann_min_vectors)

    t0 = time.perf_counter()
    vi = store.VectorIndex.build(data, kind, nprobe)
    build_s = time.perf_counter() - t0

    truth = exact_neighbours(data, queries, K)
    vi.search(queries[:5], K)  # warm caches
    found = np.empty((len(queries), K), dtype=np.int64)
    times = []
    for i in range(len(queries)):
        q = queries[i : i + 1]
        t = time.perf_counter()
        _, ids = vi.search(q, K)
        times.append((time.perf_counter() - t) * 1000.0)
        found[i] = ids[0]
    # The exact baseline the project would otherwise use: one flat search per query (a sample),
    # with faiss.knn, which runs IndexFlatIP's kernel on the array without copying it.
    exact_times = []
    if kind != "flat":
        for i in range(min(20, len(queries))):
            t = time.perf_counter()
            faiss.knn(queries[i : i + 1], data, K, metric=faiss.METRIC_INNER_PRODUCT)
            exact_times.append((time.perf_counter() - t) * 1000.0)
    else:
        exact_times = times
    ivf = faiss.try_extract_index_ivf(vi.index)
    result = ScaleResult(
        n=n,
        index_type=kind,
        nlist=int(ivf.nlist) if ivf is not None else 0,
        nprobe=int(ivf.nprobe) if ivf is not None else 0,
        build_s=build_s,
        search_ms_p50=median(times),
        search_ms_p95=percentile(times, 95),
        exact_search_ms_p50=median(exact_times),
        recall_at_10_vs_exact=recall_at_k(found, truth),
        index_mb=serialised_bytes(vi.index) / 2**20,
        raw_mb=data.nbytes / 2**20,
    )
    del vi, data
    gc.collect()
    return result
