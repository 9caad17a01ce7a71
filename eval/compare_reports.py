"""Compare two ``qa eval --json-out`` reports of the same question set (development tool).

    .venv/bin/python eval/compare_reports.py folder.json milvus.json [--names folder,milvus-lite]

Prints a Markdown table of the headline metrics side by side, then how many questions differ
in answer text, status, cited source, cited line or first-hit rank (and the first few that do).
Exit 1 when any question differs or a metric differs by more than ``--tolerance`` (default 0.005,
issue 16's bound), so it can gate a store change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from statistics import median

METRICS = (
    "n", "recall@1", "recall@5", "recall@10", "mrr@10", "exact_match", "f1", "has_answer_f1",
    "citation_accuracy", "abstention_auc", "n_declined", "n_tentative",
)
FIELDS = ("got", "status", "source", "line", "first_hit_rank")


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--names", default="A,B", help="column names, comma separated")
    p.add_argument("--tolerance", type=float, default=0.005)
    args = p.parse_args(argv)
    ra, rb = (json.loads(Path(x).read_text(encoding="utf-8")) for x in (args.a, args.b))
    na, nb = args.names.split(",", 1)
    ma, mb = ra["metrics"], rb["metrics"]
    bad = False
    print(f"| metric | {na} | {nb} |\n| --- | --- | --- |")
    for k in METRICS:
        va, vb = ma.get(k), mb.get(k)
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and abs(va - vb) > args.tolerance:
            bad = True
        print(f"| {k} | {_fmt(va)} | {_fmt(vb)} |")
    la = [q["latency_ms"] for q in ra["questions"]]
    lb = [q["latency_ms"] for q in rb["questions"]]
    print(f"| ask p50 in the eval loop (ms) | {median(la):.1f} | {median(lb):.1f} |")
    qa_, qb = ra["questions"], rb["questions"]
    if len(qa_) != len(qb):
        print(f"\nquestion counts differ: {len(qa_)} vs {len(qb)}")
        return 1
    diff = [(x, y) for x, y in zip(qa_, qb) if any(x.get(f) != y.get(f) for f in FIELDS)]
    print(f"\nquestions differing in {', '.join(FIELDS)}: {len(diff)} of {len(qa_)}")
    for x, y in diff[:10]:
        changed = {f: (x.get(f), y.get(f)) for f in FIELDS if x.get(f) != y.get(f)}
        print(f"  {x['id']}: {x['question'][:60]!r} {changed}")
    return 1 if (bad or diff) else 0


if __name__ == "__main__":
    sys.exit(main())
