"""Retrieval: a question's vector and terms -> ranked chunks.

:mod:`qa.retrieval.retrieve` fuses dense (FAISS) and BM25 results with reciprocal-rank fusion
and builds the passages shown with an answer. Reads the loaded index (:mod:`qa.index.folder`);
never imports the answering stage.
"""
