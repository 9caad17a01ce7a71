"""Evaluation: ``qa eval`` over a question set (``.jsonl`` or SQuAD JSON).

- :mod:`qa.eval.evaluate`: ask every question, score EM/F1 (SQuAD's normalisation), recall@k,
  citation accuracy, abstention (recall, AUC, the threshold curve) and latency;
- :mod:`qa.eval.command`: the command line, the Rich table and the Markdown/JSON reports.

Talks to the answering code only through :class:`qa.service.QAService`.
"""
