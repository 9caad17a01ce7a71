"""Compare retrieval fusions on a SQuAD file (development measurement, not a test).

    .venv/bin/python eval/retrieval_dev.py /path/to/squad2-dev.json [--model default]

Each article becomes one corpus file (paragraphs separated by blank lines); the
corpus is indexed with the configured model; for every answerable question a
retrieved chunk is a hit when it comes from the question's article and contains
a gold answer. Prints recall@1/5/10 and MRR@10 for BM25 alone, dense alone,
plain RRF and the score fusion that qa uses. With ``--store milvus-lite:PATH.db`` (or
``milvus://HOST:PORT/COLLECTION``) the corpus is indexed into that store and read through it,
and Milvus's own ``hybrid_search`` (dense + BM25 by its RRF ranker) is measured beside them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qa.config import load_settings, with_updates
from qa.index.lexical import terms
from qa.index.store import open_store
from qa.retrieval.retrieve import retrieve
from qa.runtime.embedder import make_embedder


def write_corpus(squad: Path, folder: Path) -> list[dict]:
    data = json.loads(squad.read_text(encoding="utf-8"))["data"]
    questions = []
    folder.mkdir(parents=True, exist_ok=True)
    for article in data:
        name = re.sub(r"[^A-Za-z0-9]+", "_", article["title"]).strip("_") + ".txt"
        text = "\n\n".join(p["context"] for p in article["paragraphs"]) + "\n"
        (folder / name).write_text(text, encoding="utf-8")
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                questions.append({"q": qa["question"], "source": name, "answers": [a["text"] for a in qa["answers"]]})
    return questions


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad", type=Path)
    ap.add_argument("--model", default="default")
    ap.add_argument("--store", default="", help="store URI (default: an index folder)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-retrieval-"))
    questions = write_corpus(args.squad, work / "corpus")
    settings = with_updates(
        load_settings(corpus=work / "corpus", index_dir=work / "index"), embedding={"model": args.model},
        store={"uri": args.store},
    )
    embedder = make_embedder(settings.embedding)
    t = time.perf_counter()
    store = open_store(settings)
    store.refresh(settings, lambda: embedder)
    print(f"indexed in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    index = store.open()
    qvecs = embedder.encode([q["q"] for q in questions], 64)
    print(f"{len(questions)} answerable questions, {index.n_chunks} chunks, store {store.uri}")
    print(f"{'fusion':8} {'r@1':>6} {'r@5':>6} {'r@10':>6} {'mrr@10':>7}")
    fusions = ["bm25", "dense", "rrf", "score"] + (["milvus-hybrid"] if hasattr(index, "hybrid") else [])
    for fusion in fusions:
        r = {1: 0, 5: 0, 10: 0}
        mrr = 0.0
        for q, vec in zip(questions, qvecs):
            if fusion == "milvus-hybrid":
                ids = index.hybrid(vec, terms(q["q"]), 10)
            else:
                ids = [h.chunk for h in retrieve(index, vec, terms(q["q"]), 10, fusion=fusion)]
            rank = next(
                (
                    i
                    for i, cid in enumerate(ids, 1)
                    if index.chunk(cid).source == q["source"]
                    and any(a.lower() in index.chunk(cid).text.lower() for a in q["answers"])
                ),
                None,
            )
            if rank is not None:
                mrr += 1 / rank
                for k in r:
                    r[k] += rank <= k
        n = len(questions)
        print(f"{fusion:8} {r[1] / n:6.3f} {r[5] / n:6.3f} {r[10] / n:6.3f} {mrr / n:7.3f}")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
