"""Fit the answer score (a logistic model over the reader's evidence) and the abstention threshold.

    .venv/bin/python eval/calibrate.py /path/to/squad2-dev.json [eval/questions.jsonl]
        [--weights READER.safetensors] [--write]

For every question the service answers with abstention switched off. The target is
"answerable and the answer is right": the answer's token F1 against a gold answer is at least 0.5.
The logistic weights are fitted on the SQuAD file only
(L2-regularised, Newton's method). The threshold is then chosen to maximise the mean
share of right decisions (right answer, or declining an unanswerable question) over
the SQuAD file and the seed question set, so neither corpus alone decides it.
With --write the result goes beside the neural reader's weights
(``qa/runtime/weights/<reader>.calibration.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from qa.answering.abstain import FEATURES
from qa.config import with_updates
from qa.eval.evaluate import best_of, corpus_settings, load_questions, token_f1
from qa.service import QAService


def collect(question_path: Path, corpus: Path | None, weights: Path | None = None) -> list[dict]:
    qf = load_questions(question_path)
    answer = {"min_score": 0.0} | ({"reader_weights": str(weights)} if weights else {})
    settings = with_updates(corpus_settings(qf, corpus), answer=answer)
    service = QAService(settings)
    service.prepare()
    rows = []
    for q in qf.questions:
        response, details = service.explain(q.question, q.history)
        f1 = best_of(token_f1, details.get("text", ""), q.answers) if q.answers and details else 0.0
        right = f1 >= 0.5
        rows.append({"answerable": bool(q.answers), "f1": f1, "right": bool(q.answers) and right,
                     "features": details.get("features")})
    return rows


def matrix(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[r["features"][k] if r["features"] else 0.0 for k in FEATURES] for r in rows], dtype=np.float64)
    y = np.array([1.0 if r["answerable"] and r["right"] else 0.0 for r in rows])
    return x, y


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> tuple[float, np.ndarray]:
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    reg = np.eye(len(w)) * l2
    reg[0, 0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + reg @ w
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + reg
        w -= np.linalg.solve(hess, grad)
    return float(w[0]), w[1:]


def squad2_f1(rows: list[dict], probs: np.ndarray, t: float) -> float:
    total = 0.0
    for r, p in zip(rows, probs):
        if p < t or r["features"] is None:
            total += 0.0 if r["answerable"] else 1.0
        else:
            total += r["f1"] if r["answerable"] else 0.0
    return total / len(rows)


def decision_accuracy(rows: list[dict], probs: np.ndarray, t: float) -> float:
    """Share of questions where qa does the right thing: a right answer, or declining an unanswerable one."""
    good = 0
    for r, p in zip(rows, probs):
        declined = p < t or r["features"] is None
        good += (not r["answerable"]) if declined else (r["answerable"] and r["right"])
    return good / len(rows)


def abstention(rows: list[dict], probs: np.ndarray, t: float) -> tuple[float, float]:
    declined = [(p < t or r["features"] is None) for r, p in zip(rows, probs)]
    unans = [not r["answerable"] for r in rows]
    tp = sum(d and u for d, u in zip(declined, unans))
    precision = tp / sum(declined) if sum(declined) else 1.0
    recall = tp / sum(unans) if sum(unans) else 1.0
    return precision, recall


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float(((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("squad", type=Path)
    ap.add_argument("seeds", type=Path, nargs="?", default=Path("eval/questions.jsonl"))
    ap.add_argument("--weights", type=Path, help="another neural reader's weights (default: the shipped reader)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    squad = collect(args.squad, None, args.weights)
    seeds = collect(args.seeds, None, args.weights)
    xs, ys = matrix(squad)
    bias, weights = fit(xs, ys)

    def probs(rows):
        x, _ = matrix(rows)
        return 1 / (1 + np.exp(-(bias + x @ weights)))

    ps, pq = probs(squad), probs(seeds)
    answerable = np.array([r["answerable"] for r in squad], dtype=float)
    print(f"AUC answerable-vs-not (SQuAD): {auc(ps, answerable):.3f}; correct-vs-not: {auc(ps, ys):.3f}")
    best_t, best = 0.5, -1.0
    print(f"{'t':>5} {'squad_acc':>9} {'seeds_acc':>9} {'squad_f1':>9} {'seeds_f1':>9} {'abst_p':>7} {'abst_r':>7}")
    for t in np.arange(0.05, 0.96, 0.05):
        a_s, a_q = decision_accuracy(squad, ps, t), decision_accuracy(seeds, pq, t)
        f_s, f_q = squad2_f1(squad, ps, t), squad2_f1(seeds, pq, t)
        p, r = abstention(squad + seeds, np.concatenate([ps, pq]), t)
        print(f"{t:5.2f} {a_s:9.3f} {a_q:9.3f} {f_s:9.3f} {f_q:9.3f} {p:7.3f} {r:7.3f}")
        if (a_s + a_q) / 2 > best:
            best, best_t = (a_s + a_q) / 2, float(round(t, 2))
    result = {
        "note": "fitted by eval/calibrate.py on the SQuAD 2.0 dev articles; the threshold maximises the mean share of "
        "right decisions (a right answer, or declining an unanswerable question) over SQuAD and eval/questions.jsonl",
        "bias": round(bias, 4),
        "weights": {k: round(float(w), 4) for k, w in zip(FEATURES, weights)},
        "threshold": best_t,
    }
    print("reliability (SQuAD + seeds, answers given with abstention off):")
    allp, ally = np.concatenate([ps, pq]), np.concatenate([ys, matrix(seeds)[1]])
    print(f"{'predicted':>11} {'n':>5} {'mean p':>7} {'right':>6}")
    for lo in np.arange(0.0, 1.0, 0.1):
        sel = (allp >= lo) & (allp < lo + 0.1 + (1e-9 if lo >= 0.9 else 0))
        if sel.any():
            print(f"{lo:4.1f}-{lo + 0.1:4.1f} {int(sel.sum()):5d} {allp[sel].mean():7.3f} {ally[sel].mean():6.3f}")
    print(json.dumps(result, indent=2))
    if args.write:
        from qa.answering.abstain import calibration_path
        from qa.answering.readers.neural import NeuralReader

        reader = NeuralReader(args.weights)
        target = calibration_path(reader.weights)
        result["reader"] = reader.name
        target.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
