"""Fit the answer probability (a logistic model over the reader's evidence) and the two thresholds.

    .venv/bin/python eval/calibrate.py /path/to/squad2-dev.json [eval/questions.jsonl]
        [--weights READER.safetensors] [--rows ROWS.json [--reuse]] [--unanswerable-share 0.2]
        [--cost-wrong 1.0 --gain-tentative 0.6 --cost-tentative 0.15] [--write]

1. Every question is asked with abstention off; the best span's features (``qa.answering.abstain``)
   and whether it is right (token F1 against a gold answer >= 0.5) are the rows (``--rows`` keeps
   them, ``--reuse`` fits again without asking).
2. The target is "answerable and right". The fit is weighted to the use it serves: each question
   set's unanswerable questions count as ``--unanswerable-share`` of it (SQuAD 2.0 dev is half
   adversarial unanswerables; people asking about their own articles ask far fewer), the seed set
   as a quarter of the total (L2-regularised logistic regression, Newton's method).
3. The thresholds maximise the expected utility of the decisions on that weighted mix, with the
   costs of docs/reader.md: a confident answer is worth 1 when right and costs ``--cost-wrong``
   when wrong; a tentative one is worth ``--gain-tentative`` when right and costs
   ``--cost-tentative`` when wrong; a decline is worth 0.
4. It prints the AUCs (with and without the agreement feature, also on the seed questions several
   sources report), the threshold grid's best points, the curve of declined answerable vs answered
   unanswerable questions, and a reliability table. ``--write`` stores the result beside the
   reader's weights (``qa/runtime/weights/<reader>.calibration.json``).

The features depend on the calibration (it picks the best span), so after writing a new one,
run it once more to fit on the spans the new calibration picks.
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

SEED_SHARE = 0.25


def collect(question_path: Path, weights: Path | None, name: str) -> list[dict]:
    qf = load_questions(question_path)
    answer = {"min_score": 0.0} | ({"reader_weights": str(weights)} if weights else {})
    service = QAService(with_updates(corpus_settings(qf, None), answer=answer))
    service.prepare()
    rows = []
    for q in qf.questions:
        _, details = service.explain(q.question, q.history)
        candidates = [{"features": f, "f1": best_of(token_f1, text, q.answers) if q.answers else 0.0}
                      for f, text in details.get("candidates", [])]
        rows.append({"set": name, "id": q.id, "answerable": bool(q.answers), "sources": len(q.sources),
                     "candidates": candidates})
    return rows


def chosen(rows: list[dict], bias: float, weights: np.ndarray, names=FEATURES) -> list[dict]:
    """Each question as the service would answer it under (bias, weights): its most probable candidate."""
    out = []
    for r in rows:
        best = None
        for c in r["candidates"]:
            p = 1 / (1 + np.exp(-(bias + sum(w * c["features"][k] for k, w in zip(names, weights)))))
            if best is None or p > best[0]:
                best = (p, c)
        p, c = best if best else (0.0, None)
        out.append({**r, "p": float(p), "features": c["features"] if c else None, "f1": c["f1"] if c else 0.0,
                    "right": bool(c and r["answerable"] and c["f1"] >= 0.5)})
    return out


def candidate_matrix(rows: list[dict], qweights: np.ndarray, names=FEATURES):
    """Every weighed candidate as a row (weighted as its question): x, y (right), w."""
    xs, ys, ws = [], [], []
    for r, qw in zip(rows, qweights):
        for c in r["candidates"]:
            xs.append([c["features"][k] for k in names])
            ys.append(1.0 if r["answerable"] and c["f1"] >= 0.5 else 0.0)
            ws.append(qw)
    return np.array(xs, dtype=np.float64), np.array(ys), np.array(ws)


def mix_weights(rows: list[dict], unanswerable_share: float) -> np.ndarray:
    """Per-row weights: in each set unanswerable questions are ``unanswerable_share`` of its
    weight; the seed set is ``SEED_SHARE`` of the total when both sets are present."""
    w = np.zeros(len(rows))
    sets = sorted({r["set"] for r in rows})
    for name in sets:
        share = (SEED_SHARE if name == "seeds" else 1 - SEED_SHARE) if len(sets) > 1 else 1.0
        for answerable, part in ((True, 1 - unanswerable_share), (False, unanswerable_share)):
            idx = [i for i, r in enumerate(rows) if r["set"] == name and r["answerable"] == answerable]
            if idx:
                w[idx] = share * part / len(idx)
    return w * len(rows) / w.sum()


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, l2: float = 1.0, steps: int = 50):
    """(bias, weights) of a weighted L2-regularised logistic regression."""
    w = np.ones(len(x)) if w is None else w
    xb = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(xb.shape[1])
    reg = np.eye(len(beta)) * l2
    reg[0, 0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(xb @ beta, -50, 50)))
        grad = xb.T @ (w * (p - y)) + reg @ beta
        hess = xb.T @ (xb * (w * p * (1 - p))[:, None]) + reg
        beta -= np.linalg.solve(hess, grad)
    return float(beta[0]), beta[1:]


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float(((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()))


def utility(rows: list[dict], probs: np.ndarray, w: np.ndarray, t_answer: float, t_tentative: float,
            costs: dict[str, float]) -> float:
    """Weighted mean utility of answering at ``t_answer`` and answering tentatively at ``t_tentative``."""
    right = np.array([r["right"] for r in rows])
    has = np.array([r["features"] is not None for r in rows])
    answer = has & (probs >= t_answer)
    tentative = has & ~answer & (probs >= t_tentative)
    u = np.where(answer, np.where(right, 1.0, -costs["wrong"]), 0.0)
    u += np.where(tentative, np.where(right, costs["tentative_gain"], -costs["tentative_wrong"]), 0.0)
    return float((u * w).sum() / w.sum())


def tiers(rows: list[dict], probs: np.ndarray, t_answer: float, t_tentative: float) -> dict[str, dict]:
    """Per tier: how many questions, and the share right (answerable and F1 >= 0.5) or, declined, unanswerable."""
    out: dict[str, dict] = {}
    for name in ("answered", "tentative", "declined"):
        sel = []
        for r, p in zip(rows, probs):
            tier = ("declined" if r["features"] is None or p < t_tentative
                    else "answered" if p >= t_answer else "tentative")
            if tier == name:
                sel.append(r)
        good = sum((not r["answerable"]) if name == "declined" else r["right"] for r in sel)
        out[name] = {"n": len(sel), "precision": round(good / len(sel), 3) if sel else None}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("squad", type=Path)
    ap.add_argument("seeds", type=Path, nargs="?", default=Path("eval/questions.jsonl"))
    ap.add_argument("--weights", type=Path, help="another neural reader's weights (default: the shipped reader)")
    ap.add_argument("--rows", type=Path, help="write the asked rows here (with --reuse: read them instead)")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--unanswerable-share", type=float, default=0.2)
    ap.add_argument("--cost-wrong", type=float, default=1.0)
    ap.add_argument("--gain-tentative", type=float, default=0.6)
    ap.add_argument("--cost-tentative", type=float, default=0.15)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    costs = {"wrong": args.cost_wrong, "tentative_gain": args.gain_tentative, "tentative_wrong": args.cost_tentative}

    if args.reuse and args.rows and args.rows.is_file():
        rows = json.loads(args.rows.read_text(encoding="utf-8"))
    else:
        rows = collect(args.squad, args.weights, "squad") + collect(args.seeds, args.weights, "seeds")
        if args.rows:
            args.rows.write_text(json.dumps(rows), encoding="utf-8")
    qw = mix_weights(rows, args.unanswerable_share)
    x, y, w = candidate_matrix(rows, qw)
    bias, weights = fit(x, y, w)
    print(f"candidates: {len(x)} from {len(rows)} questions; unconstrained fit: bias {bias:.3f}, "
          + ", ".join(f"{k} {v:.3f}" for k, v in zip(FEATURES, weights)))
    agree = FEATURES.index("agree")
    if weights[agree] < 0:
        # More sources extracting the same value cannot be evidence against it: a negative weight is
        # the noise of the few questions where sources agree, so the feature is left out of the fit.
        print(f"agree's fitted weight {weights[agree]:.3f} < 0: refitted without it")
        keep = [i for i in range(len(FEATURES)) if i != agree]
        bias, sub = fit(x[:, keep], y, w)
        weights = np.zeros(len(FEATURES))
        weights[keep] = sub
    no_agree = [k for k in FEATURES if k != "agree"]
    x0, y0, _ = candidate_matrix(rows, qw, no_agree)
    b0, w0 = fit(x0, y0, w)
    with_agree, without = chosen(rows, bias, weights), chosen(rows, b0, w0, no_agree)
    probs = np.array([r["p"] for r in with_agree])
    probs0 = np.array([r["p"] for r in without])
    y = np.array([1.0 if r["right"] else 0.0 for r in with_agree])
    y0 = np.array([1.0 if r["right"] else 0.0 for r in without])
    rows, w = with_agree, qw

    squad = np.array([r["set"] == "squad" for r in rows])
    seeds = ~squad
    answerable = np.array([r["answerable"] for r in rows], dtype=float)
    multi = seeds & np.array([r["sources"] >= 2 or not r["answerable"] for r in rows])
    print(f"rows: squad {int(squad.sum())}, seeds {int(seeds.sum())} "
          f"(seed questions several sources report, with the unanswerable ones: {int(multi.sum())})")
    print(f"{'chosen answer':<44} {'with agree':>10} {'without':>8}")
    for label, sel, target, target0 in (
            ("SQuAD AUC answerable vs not", squad, answerable, answerable), ("SQuAD AUC right vs not", squad, y, y0),
            ("seeds AUC answerable vs not", seeds, answerable, answerable), ("seeds AUC right vs not", seeds, y, y0),
            ("seeds, several sources: AUC right vs not", multi, y, y0)):
        print(f"{label:<44} {auc(probs[sel], target[sel]):10.3f} {auc(probs0[sel], target0[sel]):8.3f}")
    for label, sel in (("SQuAD answerable F1, abstention off", squad), ("seeds answerable F1, abstention off", seeds),
                       ("seeds, several sources: F1", multi)):
        sel = sel & (answerable == 1)
        print(f"{label:<44} {np.mean([r['f1'] for r, s in zip(with_agree, sel) if s]):10.3f} "
              f"{np.mean([r['f1'] for r, s in zip(without, sel) if s]):8.3f}")

    grid = [round(t, 2) for t in np.arange(0.05, 0.96, 0.01)]
    scored = [(utility(rows, probs, w, ta, tt, costs), ta, tt) for ta in grid for tt in grid if tt <= ta]
    scored.sort(reverse=True)
    best_u, t_answer, t_tentative = scored[0]
    no_tier = max((utility(rows, probs, w, t, t, costs), t) for t in grid)
    print(f"\nbest thresholds (weighted utility {best_u:.3f}): answer >= {t_answer}, tentative >= {t_tentative}; "
          f"without a tentative tier the best is {no_tier[0]:.3f} at {no_tier[1]}")
    for name, sel in (("squad", squad), ("seeds", seeds)):
        sub = [r for r, s in zip(rows, sel) if s]
        print(f"  {name} tiers: {tiers(sub, probs[sel], t_answer, t_tentative)}")

    print("\nthreshold curve (unweighted): below t a question is declined")
    print(f"{'t':>5} {'squad: answerable declined':>27} {'unanswerable answered':>22} "
          f"{'seeds: answerable declined':>27} {'unanswerable answered':>22}")
    for t in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        cells = []
        for sel in (squad, seeds):
            a, u = sel & (answerable == 1), sel & (answerable == 0)
            cells += [(probs[a] < t).mean() if a.any() else float("nan"), (probs[u] >= t).mean() if u.any() else float("nan")]
        print(f"{t:5.2f} {cells[0]:27.3f} {cells[1]:22.3f} {cells[2]:27.3f} {cells[3]:22.3f}")

    print("\nreliability (weighted mix, answers given with abstention off):")
    print(f"{'predicted':>11} {'n':>5} {'mean p':>7} {'right':>6}")
    for lo in np.arange(0.0, 1.0, 0.1):
        sel = (probs >= lo) & (probs < lo + 0.1 + (1e-9 if lo >= 0.9 else 0))
        if sel.any():
            print(f"{lo:4.1f}-{lo + 0.1:4.1f} {int(sel.sum()):5d} {np.average(probs[sel], weights=w[sel]):7.3f} "
                  f"{np.average(y[sel], weights=w[sel]):6.3f}")

    result = {
        "note": "fitted by eval/calibrate.py on the SQuAD 2.0 dev articles and eval/questions.jsonl, weighted so that "
        f"unanswerable questions are {args.unanswerable_share:.0%} of each set; the thresholds maximise the expected "
        "utility of the decisions under the costs below (docs/reader.md)",
        "features": list(FEATURES),
        "bias": round(bias, 4),
        "weights": {k: round(float(v), 4) for k, v in zip(FEATURES, weights)},
        "threshold": t_answer,
        "tentative_threshold": t_tentative,
        "unanswerable_share": args.unanswerable_share,
        "costs": costs,
    }
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
