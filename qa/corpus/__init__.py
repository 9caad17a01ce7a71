"""Corpus: files -> decoded text -> sentences -> chunks.

:mod:`qa.corpus.ingest` walks the corpus folder (``.txt``/``.md``, unreadable or binary files
skipped with a reason), decodes each file exactly once (the text that every offset in qa
indexes), splits it into sentences with character offsets (syntok) and packs whole sentences
into chunks that fit the embedding model's token budget. Nothing here embeds or stores: the
index stage (:mod:`qa.index`) does. Imports only :mod:`qa.models` and :mod:`qa.errors`.
"""
