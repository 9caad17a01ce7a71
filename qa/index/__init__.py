"""Index: chunks and sentences -> vectors, BM25 and a manifest, published atomically on disk.

- :mod:`qa.index.build`: build or refresh (re-embed only changed files, by sha256), under a
  cross-process lock, then publish the new build folder in one rename;
- :mod:`qa.index.folder`: the on-disk index (``index/b-*/``: FAISS vectors, bm25s, JSONL
  chunks/sentences, ``manifest.json``), loading and integrity checks;
- :mod:`qa.index.lexical`: the BM25 tokenizer (``terms``) and the bm25s wrapper.

Never imports the retrieval or answering stages.
"""
