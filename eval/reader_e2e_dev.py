"""End-to-end reader comparison: retrieval + reader over whole corpora, abstention off.

    .venv/bin/python eval/reader_e2e_dev.py /path/to/squad2-dev.json eval/questions.jsonl

For each ReaderWeights variant below, every answerable question of each set is asked
through QAService (min_score 0) and scored with SQuAD F1 and answer-sentence recall.
Used to balance the reader's sentence score (embedding cosine vs lexical evidence)
across crowd-written SQuAD questions and the paraphrase-heavy seed questions.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import qa.answer
from qa.config import with_updates
from qa.evaluate import best_of, contains_answer, corpus_settings, load_questions, token_f1
from qa.reader import DEFAULT_WEIGHTS, read
from qa.service import QAService

VARIANTS = {
    "default": {},
    "cos2": {"cosine": 2.0},
    "cos3": {"cosine": 3.0},
    "cos2_lex1.5": {"cosine": 2.0, "lexical": 1.5},
    "cos3_pass1": {"cosine": 3.0, "passage": 1.0},
}


def service_for(path: Path) -> tuple[QAService, list]:
    qf = load_questions(path)
    settings = corpus_settings(qf)
    service = QAService(with_updates(settings, answer={"min_score": 0.0}))
    service.prepare()
    return service, [q for q in qf.questions if q.answers]


def main() -> int:
    sets = {Path(p).name: service_for(Path(p)) for p in sys.argv[1:]}
    print(f"{'variant':14}" + "".join(f" {name[:18]:>18} f1/rec" for name in sets))
    for label, change in VARIANTS.items():
        weights = dataclasses.replace(DEFAULT_WEIGHTS, **change)
        qa.answer.read = lambda q, c, idf=None, top_n=5, w=weights: read(q, c, idf, top_n, w)
        row = f"{label:14}"
        for service, questions in sets.values():
            service._answers.clear()
            f1 = rec = 0.0
            for q in questions:
                r = service.ask(q.question, q.history)
                if r.answer is not None:
                    f1 += best_of(token_f1, r.answer.text, q.answers)
                    rec += contains_answer(r.answer.sentence, q.answers)
            row += f" {f1 / len(questions):>18.3f} {rec / len(questions):.3f}"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
