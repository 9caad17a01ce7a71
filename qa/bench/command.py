"""``qa bench [--json-out FILE] [--quick]``: measure the figures in docs/performance.md.

Prints a table and writes JSON. Every figure is a median over repeats, and every ratio
is measured in the same run as its baseline (interleaved), because the machine is noisy.
Indexes are built in a temporary folder that is removed at the end; the project's own
``index/`` and ``seeds/`` are only read. Heavy imports happen inside :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCALE_SIZES = (100_000, 1_000_000)
QUICK_SCALE_SIZES = (100_000,)
STORE_SIZES = (100_000, 1_000_000)
QUICK_STORE_SIZES = (10_000,)
STORE_QUESTIONS = 20


@dataclass(frozen=True)
class Plan:
    """How much work each part does; ``--quick`` keeps the whole run CI-sized."""

    quick: bool
    throughput_articles: int | None  # SQuAD articles in the throughput corpus (None: all)
    throughput_copies: int  # each article written this many times (paragraphs rotated)
    throughput_repeats: int
    ask_repeats: int
    startup_repeats: int
    index_rss_repeats: int
    noop_repeats: int
    scale_sizes: tuple[int, ...]
    store_sizes: tuple[int, ...] = QUICK_STORE_SIZES
    store_repeats: int = 1


QUICK = Plan(True, 1, 1, 3, 3, 3, 1, 5, QUICK_SCALE_SIZES, QUICK_STORE_SIZES, 1)
FULL = Plan(False, None, 2, 5, 5, 5, 2, 9, SCALE_SIZES, STORE_SIZES, 2)

# name -> (comparison, threshold, description); checked by :func:`targets`.
TARGETS: dict[str, tuple[str, float, str]] = {
    "index_throughput_ratio": (">=", 0.9, ">= 0.9"),
    "ask_ms_p50": ("<=", 40.0, "<= 40 ms"),
    "ask_ms_p95": ("<=", 80.0, "<= 80 ms"),
    "tui_first_paint_s": ("<=", 1.0, "<= 1.0 s"),
    "noop_reindex_s": ("<=", 0.5, "<= 0.5 s"),
    "cold_ask_s": ("<=", 1.5, "<= 1.5 s"),
    "chat_ready_s": ("<=", 2.0, "<= 2.0 s"),
    "index_throughput_vs_torch": (">=", 2.0, ">= 2.0"),
}
PEAK_RSS_ASK_MB = 300.0
SCALE_TARGETS = {"search_ms_p50": ("<=", 5.0), "recall_at_10_vs_exact": (">=", 0.95), "index_over_raw": ("<=", 1.3)}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from qa.bench.corpus import DEFAULT_SQUAD

    p = subparsers.add_parser(
        "bench",
        help="measure indexing, asking, start-up and index scaling",
        description="Measure throughput, latency, start-up, memory and vector-index scaling; "
        "print a table and write JSON (docs/performance.md explains every figure).",
    )
    p.add_argument("--json-out", metavar="FILE", type=Path, help="write the figures as JSON to FILE")
    p.add_argument("--quick", action="store_true", help="fewer repeats, a smaller corpus, no 1,000,000-vector case")
    p.add_argument("--corpus", metavar="DIR", help="corpus for ask/start-up figures (default: seeds/, or $QA_CORPUS)")
    p.add_argument("--questions", metavar="FILE", type=Path, default=Path("eval/questions.jsonl"),
                   help="JSONL questions for the ask latency (default: eval/questions.jsonl)")
    p.add_argument("--squad", metavar="FILE", type=Path, default=DEFAULT_SQUAD,
                   help="SQuAD JSON whose paragraphs form the throughput corpus (default: ../shared/data/...)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder with the bench indexes")
    p.add_argument("--only", choices=["store"], help="run one section only: store (folder vs Milvus Lite)")
    p.add_argument("--store-sizes", metavar="N,N", help="chunk counts of the store section (default 100000,1000000; "
                   "--quick 10000)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from qa.cli import settings_from_args

    settings = settings_from_args(args)
    plan = QUICK if args.quick else FULL
    if args.store_sizes:
        try:
            sizes = tuple(int(x) for x in args.store_sizes.split(",") if x.strip())
        except ValueError:
            sizes = ()
        if not sizes or min(sizes) < 1:
            from qa.errors import ConfigError

            raise ConfigError(f"--store-sizes wants whole numbers separated by commas, got {args.store_sizes!r}")
        from dataclasses import replace

        plan = replace(plan, store_sizes=sizes)
    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    log = _Log()
    try:
        if args.only == "store":
            results = measure_store_only(settings, plan, work, args.questions, log)
        else:
            results = measure(settings, plan, work, args.questions, args.squad, log)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    if args.json_out is not None:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(_finite(results), indent=2, sort_keys=True, default=_json_default, allow_nan=False)
        args.json_out.write_text(text + "\n", encoding="utf-8")
        log(f"wrote {args.json_out}")
    return 0


class _Log:
    """Progress lines on stderr, with the seconds since the bench started."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"bench [{time.perf_counter() - self.t0:6.1f} s] {message}", file=sys.stderr, flush=True)


def measure(
    settings, plan: Plan, work: Path, questions_path: Path | None, squad: Path | None, log=None,
    fresh_processes: bool = True,
) -> dict[str, Any]:
    """Every figure, as the JSON written by ``--json-out``. ``fresh_processes=False`` skips the
    start-up part (the tests use it with the hashing embedder); its figures are then NaN."""
    from qa.bench import pipeline, scale
    from qa.bench.corpus import make_bench_corpus
    from qa.config import with_updates
    from qa.index.build import refresh
    from qa.runtime.embedder import make_embedder

    log = log or (lambda message: None)
    started = time.perf_counter()
    load_before = _loadavg()
    seeds = settings.corpus
    seeds_index = work / "seeds-index"
    seeds_settings = pipeline.settings_for(settings, seeds, seeds_index)
    bench_corpus = work / "corpus"
    bench_settings = pipeline.settings_for(settings, bench_corpus, work / "throughput-index")
    corpus_note = make_bench_corpus(bench_corpus, squad, seeds, plan.throughput_articles, plan.throughput_copies)
    questions, questions_note = pipeline.load_questions(questions_path)
    out: dict[str, Any] = {}

    log("loading the embedding model")
    t0 = time.perf_counter()
    embedder = make_embedder(settings.embedding)
    warm = getattr(embedder, "warm_up", None)
    if warm is not None:
        warm()
    out["model_load_s"] = time.perf_counter() - t0
    log(f"indexing {seeds} into the bench folder")
    seeds_report = refresh(seeds_settings, lambda: embedder, None, force=True)

    # 1. indexing throughput vs plain SentenceTransformer.encode, interleaved
    raw_model = pipeline.plain_model(embedder, settings.embedding.device)
    tp = pipeline.index_throughput(bench_settings, embedder, raw_model, plan.throughput_repeats, log)
    out["throughput"] = tp.as_dict() | {"corpus": corpus_note, "batch_size": settings.embedding.batch_size}
    for key in ("index_texts_per_s", "raw_encode_texts_per_s", "index_throughput_ratio"):
        out[key] = out["throughput"][key]
    # with the ONNX embedder the baseline is plain SentenceTransformer.encode (torch) of the same texts
    onnx = getattr(embedder, "runtime", None) is not None
    out["index_throughput_vs_torch"] = out["index_throughput_ratio"] if onnx else math.nan
    out["throughput"]["baseline"] = "SentenceTransformer.encode (torch)" if onnx else "the same embedder's encode"
    centres = tp.vectors
    del raw_model, tp

    # 2. warm ask latency, and the query encode inside it
    from qa.runtime.packaged import PREVIOUS_READER, reader_weights

    log(f"ask latency: {len(questions)} questions x {plan.ask_repeats}, reader {PREVIOUS_READER} interleaved as the baseline")
    previous = None
    if settings.answer.reader_weights is None:
        previous = with_updates(seeds_settings, answer={"reader_weights": str(reader_weights(PREVIOUS_READER))})
    ask = pipeline.ask_latency(seeds_settings, embedder, questions, plan.ask_repeats, baseline=previous)
    if previous is not None:
        ask["baseline"] = f"the previous reader revision ({PREVIOUS_READER}), same run, passes interleaved"
        ask["ask_vs_previous_reader_p50"] = ask["ask_ms_p50"] / ask["baseline_ms_p50"]
    ask["query_encode_ms_p50"] = pipeline.query_encode_ms(embedder, questions[:20], 3)
    out["ask"] = ask | {"questions_from": questions_note, "corpus": str(seeds)}
    out["ask_ms_p50"], out["ask_ms_p95"] = ask["ask_ms_p50"], ask["ask_ms_p95"]

    # 3. no-op re-index of the unchanged corpora
    log("no-op re-index")
    out.update(pipeline.noop_reindex(seeds_settings, plan.noop_repeats))
    out["noop_reindex_bench_corpus_s"] = pipeline.noop_reindex(bench_settings, plan.noop_repeats)["noop_reindex_s"]

    # 4. fresh processes: import floor vs cold ask (interleaved), cold index, first paint
    if fresh_processes:
        torch_index = None
        if onnx:  # the old path's `qa ask` needs an index of sentence-transformers vectors
            from qa.runtime.embedder import SentenceTransformerEmbedder

            log("indexing the seeds for the old (torch) path")
            torch_index = work / "seeds-index-torch"
            old = with_updates(seeds_settings, index_dir=torch_index, embedding={"runtime": "torch"})
            refresh(old, lambda: SentenceTransformerEmbedder(settings.embedding.model), None, force=True)
        out.update(_fresh_processes(plan, seeds, seeds_index, bench_corpus, work, questions[0][0], log, torch_index))
    else:
        out.update({"cold_ask_s": math.nan, "import_floor_s": math.nan, "tui_first_paint_s": math.nan,
                    "chat_ready_s": math.nan, "peak_rss_mb": {"index": math.nan, "ask": math.nan}})

    # 5. the vector index at scale
    out["scale"] = {}
    for n in plan.scale_sizes:
        log(f"scale: {n:,} vectors")
        res = scale.run_scale(n, centres, settings.index.ann_min_vectors, settings.index.ivf_nprobe)
        out["scale"][str(n)] = res.as_dict()

    # 6. both stores side by side
    out["store"] = _store(settings, seeds_index, bench_settings.index_dir, centres, plan, questions, work, log)

    out["targets"] = targets(out)
    out["meta"] = {
        "quick": plan.quick,
        "seconds": time.perf_counter() - started,
        "corpus": str(seeds),
        "model": settings.embedding.model,
        "embedding_runtime": getattr(embedder, "runtime", None) or "sentence-transformers",
        "seed_index_texts": seeds_report.texts_embedded,
        "cpus": os.cpu_count(),
        "torch_threads": _torch_threads(),
        "loadavg_start": load_before,
        "loadavg_end": _loadavg(),
        "bench_peak_rss_mb": _self_peak_rss_mb(),
        "python": platform.python_version(),
        "versions": _versions(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    log("done")
    return out


def _store(settings, seeds_index: Path, pool_index: Path, centres, plan: Plan, questions, work: Path,
           log) -> dict[str, Any]:
    from qa.bench.store import store_section
    from qa.index import folder

    pool_build = folder.current_build(pool_index) if pool_index.exists() else None
    pool_from = pool_build or folder.current_build(seeds_index)
    pool = [c.text for c in folder.load_build(pool_from).chunks]
    return store_section(settings, seeds_index, pool, centres, plan.store_sizes,
                         questions[:STORE_QUESTIONS], plan.store_repeats, work, log)


def measure_store_only(settings, plan: Plan, work: Path, questions_path: Path | None, log) -> dict[str, Any]:
    """``qa bench --only store``: the seeds indexed, then the store section alone."""
    from qa.bench import pipeline
    from qa.index import folder
    from qa.index.build import refresh
    from qa.runtime.embedder import make_embedder

    started = time.perf_counter()
    seeds_index = work / "seeds-index"
    seeds_settings = pipeline.settings_for(settings, settings.corpus, seeds_index)
    questions, _ = pipeline.load_questions(questions_path)
    embedder = make_embedder(settings.embedding)
    warm = getattr(embedder, "warm_up", None)
    if warm is not None:
        warm()
    log(f"indexing {settings.corpus} into the bench folder")
    refresh(seeds_settings, lambda: embedder, None, force=True)
    centres = folder.load_build(folder.current_build(seeds_index)).sentence_vectors
    out: dict[str, Any] = {"store": _store(settings, seeds_index, work / "none", centres, plan, questions,
                                           work, log)}
    out["targets"] = {}
    out["meta"] = {"quick": plan.quick, "only": "store", "seconds": time.perf_counter() - started,
                   "corpus": str(settings.corpus), "cpus": os.cpu_count(), "loadavg_end": _loadavg(),
                   "versions": _versions(), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    return out


def _fresh_processes(plan: Plan, seeds: Path, seeds_index: Path, bench_corpus: Path, work: Path,
                     question: str, log, torch_index: Path | None = None) -> dict[str, Any]:
    from qa.bench import startup

    out: dict[str, Any] = {}
    log(f"cold ask vs import floor{' vs the torch path' if torch_index else ''} x {plan.startup_repeats}")
    cold = startup.cold_ask_and_floor(question, seeds, seeds_index, plan.startup_repeats, torch_index)
    out["cold_ask_s"], out["import_floor_s"] = cold["cold_ask_s"], cold["import_floor_s"]
    out["cold_ask_torch_s"] = cold.get("cold_ask_torch_s", math.nan)
    log(f"cold index of the throughput corpus x {plan.index_rss_repeats}")
    cold_idx = startup.cold_index(bench_corpus, work / "cold-index", plan.index_rss_repeats)
    out["startup"] = cold | {"cold_index": cold_idx}
    out["peak_rss_mb"] = {"index": cold_idx["peak_rss_index_mb"], "ask": cold["peak_rss_ask_mb"]}
    log(f"chat first paint x {plan.startup_repeats}")
    try:
        paint = startup.tui_first_paint(seeds, seeds_index, work, plan.startup_repeats)
    except (startup.ChildFailed, ImportError) as exc:
        out["tui_first_paint_s"] = math.nan
        out["tui"] = {"error": str(exc)[:300]}
    else:
        out["tui_first_paint_s"] = paint["tui_first_paint_s"]
        out["tui"] = paint | {"method": "fresh process: create_app + run_test (headless), launch -> events.Ready"}
    log(f"chat ready (launch -> answer of a question sent at the first frame) x {plan.startup_repeats}")
    try:
        ready = startup.chat_ready(seeds, seeds_index, work, question, plan.startup_repeats)
    except (startup.ChildFailed, ImportError) as exc:
        out["chat_ready_s"] = math.nan
        out["chat_ready"] = {"error": str(exc)[:300]}
    else:
        out["chat_ready_s"] = ready["chat_ready_s"]
        out["chat_ready"] = ready
    return out


def targets(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target: its figure, the bound, and whether it is met (None when not measured)."""
    checks: dict[str, dict[str, Any]] = {}
    for key, (op, bound, text) in TARGETS.items():
        checks[key] = {"value": out.get(key), "target": text, "met": _meets(out.get(key), op, bound)}
    rss = out.get("peak_rss_mb", {}).get("ask")
    checks["peak_rss_mb.ask"] = {"value": rss, "target": f"<= {PEAK_RSS_ASK_MB:g} MB",
                                 "met": _meets(rss, "<=", PEAK_RSS_ASK_MB)}
    texts = out.get("noop_reindex_texts_embedded")
    checks["noop_reindex_texts_embedded"] = {
        "value": texts, "target": "= 0", "met": None if texts is None else texts == 0,
    }
    big = out.get("scale", {}).get(str(SCALE_SIZES[-1]))
    for key, (op, bound) in SCALE_TARGETS.items():
        value = None if big is None else big.get(key)
        checks[f"scale_1m_{key}"] = {"value": value, "target": f"{op} {bound:g}", "met": _meets(value, op, bound)}
    return checks


def _meets(value, op: str, bound: float) -> bool | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value <= bound if op == "<=" else value >= bound


# --- output ---------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:,.{digits}f}"
    return str(value)


def table_rows(out: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(figure, value, target, met) for the printed table."""
    t = out.get("targets", {})

    def met(key: str) -> bool | None:
        return t.get(key, {}).get("met")

    tp = out.get("throughput", {})
    rows = [
        ("index_texts_per_s", _fmt(out.get("index_texts_per_s"), 1), "", None),
        ("raw_encode_texts_per_s", _fmt(out.get("raw_encode_texts_per_s"), 1), "", None),
        ("index_throughput_ratio", _fmt(out.get("index_throughput_ratio"), 3), ">= 0.9", met("index_throughput_ratio")),
        ("index_throughput_vs_torch", _fmt(out.get("index_throughput_vs_torch"), 3), ">= 2.0",
         met("index_throughput_vs_torch")),
        ("  texts (chunks + sentences)", _fmt(tp.get("texts")), "", None),
        ("ask_ms_p50", _fmt(out.get("ask_ms_p50"), 1), "<= 40", met("ask_ms_p50")),
        ("ask_ms_p95", _fmt(out.get("ask_ms_p95"), 1), "<= 80", met("ask_ms_p95")),
        ("  previous reader, same run: p50 / p95", f"{_fmt(out.get('ask', {}).get('baseline_ms_p50'), 1)} / "
         f"{_fmt(out.get('ask', {}).get('baseline_ms_p95'), 1)}", "", None),
        ("  query encode ms p50", _fmt(out.get("ask", {}).get("query_encode_ms_p50"), 1), "", None),
        ("import_floor_s", _fmt(out.get("import_floor_s")), "", None),
        ("cold_ask_s", _fmt(out.get("cold_ask_s")), "<= 1.5", met("cold_ask_s")),
        ("  cold_ask_torch_s (old path, same run)", _fmt(out.get("cold_ask_torch_s")), "", None),
        ("tui_first_paint_s", _fmt(out.get("tui_first_paint_s")), "<= 1.0", met("tui_first_paint_s")),
        ("chat_ready_s", _fmt(out.get("chat_ready_s")), "<= 2.0", met("chat_ready_s")),
        ("noop_reindex_s", _fmt(out.get("noop_reindex_s"), 4), "<= 0.5", met("noop_reindex_s")),
        ("  texts embedded by it", _fmt(out.get("noop_reindex_texts_embedded")), "0",
         met("noop_reindex_texts_embedded")),
        ("peak_rss_mb index", _fmt(out.get("peak_rss_mb", {}).get("index"), 0), "", None),
        ("peak_rss_mb ask", _fmt(out.get("peak_rss_mb", {}).get("ask"), 0), "<= 300", met("peak_rss_mb.ask")),
    ]
    for n, res in out.get("scale", {}).items():
        big = n == str(SCALE_SIZES[-1])
        label = f"{int(n):,} vectors ({res.get('index_type')}, nlist {res.get('nlist')}, nprobe {res.get('nprobe')})"
        rows.append((label, "", "", None))
        rows.append(("  build_s", _fmt(res.get("build_s"), 1), "", None))
        rows.append(("  search_ms_p50", _fmt(res.get("search_ms_p50"), 3), "<= 5" if big else "",
                     met("scale_1m_search_ms_p50") if big else None))
        rows.append(("  exact flat search ms p50", _fmt(res.get("exact_search_ms_p50"), 2), "", None))
        rows.append(("  recall_at_10_vs_exact", _fmt(res.get("recall_at_10_vs_exact"), 3), ">= 0.95" if big else "",
                     met("scale_1m_recall_at_10_vs_exact") if big else None))
        rows.append(("  index_mb / raw float32 mb", f"{_fmt(res.get('index_mb'), 1)} / {_fmt(res.get('raw_mb'), 1)}",
                     "<= 1.3x" if big else "", met("scale_1m_index_over_raw") if big else None))
    if out.get("meta", {}).get("only") == "store":
        rows = []
    for n, res in out.get("store", {}).items():
        rows.append((f"store, {int(n):,} chunk + {int(n):,} sentence vectors: folder | milvus-lite", "", "", None))
        f, m = res.get("folder", {}), res.get("milvus", {})
        rows.append(("  build rows/s", f"{_fmt(f.get('build_rows_per_s'), 0)} | {_fmt(m.get('build_rows_per_s'), 0)}",
                     "", None))
        rows.append(("  open s", f"{_fmt(f.get('open_s'), 2)} | {_fmt(m.get('open_s'), 2)}", "", None))
        rows.append(("  ask ms p50", f"{_fmt(f.get('ask_ms_p50'), 1)} | {_fmt(m.get('ask_ms_p50'), 1)}", "", None))
        rows.append(("  ask ms p95", f"{_fmt(f.get('ask_ms_p95'), 1)} | {_fmt(m.get('ask_ms_p95'), 1)}", "", None))
    return rows


def print_table(out: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text("qa bench" + (" --quick" if out.get("meta", {}).get("quick") else "")))
    for name, justify in (("figure", "left"), ("value", "right"), ("target", "left"), ("", "left")):
        table.add_column(Text(name), justify=justify)
    for figure, value, target, met in table_rows(out):
        status = Text("") if met is None else (Text("met", style="green") if met else Text("MISSED", style="bold red"))
        table.add_row(Text(figure), Text(value), Text(target), status)
    console = Console()
    console.print(table)
    meta = out.get("meta", {})
    console.print(Text(
        f"{meta.get('seconds', 0):.0f} s; throughput corpus: {out.get('throughput', {}).get('corpus', '-')}; "
        f"load average {meta.get('loadavg_start')} -> {meta.get('loadavg_end')} on {meta.get('cpus')} CPUs"
    ))


# --- helpers --------------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """NaN (not measured) becomes null, so the JSON is strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _self_peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _torch_threads() -> int | None:
    try:
        import torch
    except ImportError:
        return None
    return int(torch.get_num_threads())


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("torch", "sentence-transformers", "transformers", "onnxruntime", "tokenizers", "faiss-cpu", "numpy",
                 "textual", "pymilvus", "milvus-lite"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out
