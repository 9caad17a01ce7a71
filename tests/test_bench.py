"""The plumbing of ``qa bench``: statistics helpers, target checks, the JSON contract.

Fast: the hashing embedder, a copy of the seeds, tiny sizes, no fresh processes. Nothing
here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from qa.bench import command as bench
from qa.bench import scale, stats
from qa.bench.corpus import make_bench_corpus, rotated, squad_articles
from qa.config import load_settings, with_updates

CONTRACT_KEYS = {
    "index_texts_per_s",
    "raw_encode_texts_per_s",
    "index_throughput_ratio",
    "ask_ms_p50",
    "ask_ms_p95",
    "cold_ask_s",
    "import_floor_s",
    "tui_first_paint_s",
    "noop_reindex_s",
    "peak_rss_mb",
    "scale",
}
SCALE_KEYS = {"build_s", "search_ms_p50", "recall_at_10_vs_exact", "index_mb"}
TINY = bench.Plan(
    quick=True, throughput_articles=1, throughput_copies=1, throughput_repeats=2, ask_repeats=1,
    startup_repeats=1, index_rss_repeats=1, noop_repeats=2, scale_sizes=(2_000,), store_sizes=(300,), store_repeats=1,
)


# --- statistics -----------------------------------------------------------------------------


def test_median_odd_even_and_empty():
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert math.isnan(stats.median([]))


def test_percentile_matches_numpy_linear():
    xs = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (0, 25, 50, 95, 100):
        assert stats.percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))
    with pytest.raises(ValueError, match="within 0..100"):
        stats.percentile(xs, 101)


def test_ratio_and_paired_ratio():
    assert stats.ratio(3.0, 4.0) == 0.75
    assert math.isnan(stats.ratio(1.0, 0.0))
    # per-pair ratios 0.5, 1.0, 2.0 -> median 1.0 (not the ratio of medians, 2/2)
    assert stats.paired_ratio([1, 2, 4], [2, 2, 2]) == 1.0
    with pytest.raises(ValueError, match="as many"):
        stats.paired_ratio([1], [1, 2])


def test_recall_at_k():
    truth = [[1, 2, 3, 4], [5, 6, 7, 8]]
    found = [[4, 3, 2, 1], [5, 6, 0, -1]]
    assert stats.recall_at_k(found, truth) == pytest.approx((1.0 + 0.5) / 2)


# --- targets and table ----------------------------------------------------------------------


def test_targets_met_missed_and_unmeasured():
    out = {
        "index_throughput_ratio": 0.95, "ask_ms_p50": 50.0, "ask_ms_p95": math.nan,
        "cold_ask_s": 7.0, "import_floor_s": 6.0, "noop_reindex_s": 0.01, "noop_reindex_texts_embedded": 0,
        "scale": {"1000000": {"search_ms_p50": 3.0, "recall_at_10_vs_exact": 0.9, "index_over_raw": 1.01}},
    }
    t = bench.targets(out)
    assert t["index_throughput_ratio"]["met"] is True
    assert t["ask_ms_p50"]["met"] is False
    assert t["ask_ms_p95"]["met"] is None  # NaN: not measured
    assert t["tui_first_paint_s"]["met"] is None  # absent
    assert t["cold_ask_s"]["met"] is False  # 7.0 > 1.5
    assert t["chat_ready_s"]["met"] is None and t["peak_rss_mb.ask"]["met"] is None
    assert t["noop_reindex_texts_embedded"]["met"] is True
    assert t["scale_1m_search_ms_p50"]["met"] is True
    assert t["scale_1m_recall_at_10_vs_exact"]["met"] is False
    assert t["scale_1m_index_over_raw"]["met"] is True


def test_finite_turns_nan_into_null():
    data = {"a": math.nan, "b": [1.0, math.inf], "c": {"d": 2}}
    assert bench._finite(data) == {"a": None, "b": [1.0, None], "c": {"d": 2}}


# --- corpus and scale data ------------------------------------------------------------------


def test_rotated_copies_start_at_a_later_paragraph():
    arts = [("T", ["p0", "p1", "p2"])]
    assert rotated(arts, 2) == [("T", ["p0", "p1", "p2"]), ("T (variant 1)", ["p1", "p2", "p0"])]


def test_bench_corpus_reads_squad_by_path(tmp_path: Path):
    squad = Path(__file__).parent / "fixtures" / "eval" / "squad-v2.json"
    note = make_bench_corpus(tmp_path / "c", squad, tmp_path, max_articles=None, copies=2)
    files = sorted((tmp_path / "c").glob("*.txt"))
    assert len(files) == 2 * len(squad_articles(squad))
    assert "SQuAD" in note and "x2" in note


def test_mixture_sampler_is_normalised_deterministic_and_holds_out_queries():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 16)).astype(np.float32)
    sampler = scale.MixtureSampler(centres, seed=1)
    data = sampler.sample(500, seed=2)
    assert data.shape == (500, 16) and data.dtype == np.float32
    assert np.allclose(np.linalg.norm(data, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(data, scale.MixtureSampler(centres, seed=1).sample(500, seed=2))
    queries = sampler.sample(10, seed=3)
    assert (queries @ data.T).max() < 0.9999  # drawn like the data, not members of it


# --- the whole run, tiny ------------------------------------------------------------------


def test_measure_writes_every_contract_key(tmp_path: Path, seed_corpus: Path):
    settings = with_updates(
        load_settings(corpus=seed_corpus, index_dir=tmp_path / "unused-index"),
        embedding={"model": "hashing"}, index={"ann_min_vectors": 1_000},
    )
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"question": "Who shot the recruiting officer?"}) + "\n"
        + json.dumps({"question": "How old was he?", "history": ["Who shot the recruiting officer?"]}) + "\n",
        encoding="utf-8",
    )
    work = tmp_path / "work"
    work.mkdir()
    out = bench.measure(settings, TINY, work, questions, squad=None, fresh_processes=False)

    assert CONTRACT_KEYS <= set(out)
    assert set(out["peak_rss_mb"]) == {"index", "ask"}
    assert out["index_texts_per_s"] > 0 and out["raw_encode_texts_per_s"] > 0
    assert out["index_throughput_ratio"] > 0
    assert out["throughput"]["texts"] == out["throughput"]["chunks"] + out["throughput"]["sentences"]
    assert len(out["throughput"]["runs"]) == TINY.throughput_repeats
    assert out["ask"]["questions"] == 2
    assert out["noop_reindex_texts_embedded"] == 0 and out["noop_reindex_model_loaded"] is False
    res = out["scale"]["2000"]
    assert SCALE_KEYS <= set(res)
    assert res["index_type"] == "ivf" and 0.0 <= res["recall_at_10_vs_exact"] <= 1.0
    assert res["index_mb"] > 0
    assert out["targets"]["cold_ask_s"]["met"] is None  # fresh processes skipped
    store = out["store"]["300"]  # both stores, side by side, on the same rows
    assert store["chunks"] == 300 and store["rows"] > 600 and store["questions"] == 2  # + the seeds' sentences
    for kind in ("folder", "milvus"):
        assert store[kind]["build_rows_per_s"] > 0 and store[kind]["ask_ms_p50"] > 0, kind
    # the JSON is strict (NaN -> null) and the table renders
    json.loads(json.dumps(bench._finite(out), default=bench._json_default, allow_nan=False))
    assert any(row[0] == "index_throughput_ratio" for row in bench.table_rows(out))
    assert any(row[0].startswith("store, 300 chunk") for row in bench.table_rows(out))
    assert not (settings.index_dir).exists()  # nothing outside the work folder


def test_parser_has_the_documented_options():
    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers())
    args = parser.parse_args(["bench", "--quick", "--json-out", "x.json"])
    assert args.quick and args.json_out == Path("x.json") and args.handler is bench.run
