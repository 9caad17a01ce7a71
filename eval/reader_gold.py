"""The neural reader alone, with the gold paragraph given (SQuAD v1.1/v2.0 file).

    .venv/bin/python eval/reader_gold.py ../shared/data/squad2-dev-5articles.json [--weights FILE] [--no-quantize]

Reports answerable EM/F1 (the best span, no abstention), the AUC with which the reader's
margin (best span score - no-answer score) separates answerable from unanswerable
questions, and the reader's time per question on this machine. A dev script: nothing in
qa/ imports it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from qa.answering.readers.base import PassageText
from qa.answering.readers.neural import NeuralReader
from qa.answering.squad_metrics import best_of, exact_match, token_f1
from qa.answering.train import auc, dev_questions, read_squad


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad", type=Path)
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--no-quantize", action="store_true")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    reader = NeuralReader(args.weights, quantize=not args.no_quantize)
    reader.warm_up()
    questions = dev_questions(read_squad(args.squad))
    f1s, ems, margins, has, times = [], [], [], [], []
    for q in questions:
        t = time.perf_counter()
        out = reader.read(q.question, [PassageText("gold", 0, q.context)])
        times.append(time.perf_counter() - t)
        best = out.spans[0] if out.spans else None
        margins.append(best.margin if best else -1e9)
        has.append(bool(q.answers))
        if q.answers:
            text = best.text if best else ""
            f1s.append(best_of(token_f1, text, q.answers))
            ems.append(best_of(exact_match, text, q.answers))
    result = {
        "reader": reader.name, "quantized": reader.quantize, "questions": len(questions),
        "answerable": len(f1s), "answerable_em": round(statistics.mean(ems), 4),
        "answerable_f1": round(statistics.mean(f1s), 4), "no_answer_auc": round(auc(margins, has), 4),
        "ms_per_question_p50": round(1000 * statistics.median(times), 1),
    }
    print(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
