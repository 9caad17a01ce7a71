"""Warm ask latency with the reading window chosen by the cosine alone (answer.reader_window_lexical = 0)
against the default weight, side by side: two services over the same index, passes interleaved.

    .venv/bin/python eval/bench_window_lexical.py [--repeats 5] [--questions eval/questions.jsonl]

Prints each setting's p50 per pass, the median of those, and the median of the pass-by-pass ratios to
the cosine-alone baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default="eval/questions.jsonl")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from qa.config import Settings
    from qa.service import QAService

    with open(args.questions, encoding="utf-8") as fh:
        questions = [json.loads(line)["question"] for line in fh if line.strip()]
    default = Settings().answer.reader_window_lexical
    services = {}
    for weight in (0.0, default):
        svc = QAService(Settings(answer={"reader_window_lexical": weight}))
        svc.prepare()
        for q in questions:  # warm: models loaded, pages read
            svc.ask(q)
        services[weight] = svc
    p50s: dict[float, list[float]] = {w: [] for w in services}
    for _ in range(args.repeats):
        for weight, svc in services.items():
            svc._answers.clear()  # time the pipeline, not the answer cache
            times = []
            for q in questions:
                t = time.perf_counter()
                svc.ask(q)
                times.append((time.perf_counter() - t) * 1000)
            p50s[weight].append(statistics.median(times))
    base = p50s[0.0]
    for weight, values in p50s.items():
        # The ratio is taken pass by pass (each pass follows the baseline's by seconds), then the median:
        # on a shared machine the speed of whole passes drifts more than the settings differ.
        paired = statistics.median(v / b for v, b in zip(values, base))
        print(f"reader_window_lexical={weight}: p50 per pass {[round(v, 1) for v in values]} "
              f"median {statistics.median(values):.1f} ms, paired ratio to 0: {paired:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
