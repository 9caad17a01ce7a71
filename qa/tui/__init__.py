"""The Textual chat front end: the app and its screens (``app``, ``screens``), the message widgets
that show an answer, its sources, agreement and citation (``messages``, ``widgets``, ``render``),
the command palette, the transcript export, and ``command`` (the ``qa chat`` entry). It talks to
the rest of qa only through ``qa.service`` and the typed responses of ``qa.models``, and never
imports torch, faiss or onnxruntime (an import-linter contract). Import nothing here: ``qa --help``
must not load textual.
"""
