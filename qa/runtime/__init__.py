"""Runtime: the model files and what runs them. Where does a vector (or a logit) come from?

- :mod:`qa.runtime.packaged`: where the shipped models live and their sha256 pins (the one
  module both the embedder and the reader import for that);
- :mod:`qa.runtime.embedder`: text -> normalised vectors (ONNX Runtime by default,
  sentence-transformers for any other model, a model-free hashing embedder for tests);
- :mod:`qa.runtime.onnx`: deterministic ONNX exports (fp32, int8) of the embedder and of the
  reader, cached by sha256, and onnxruntime sessions;
- :mod:`qa.runtime.span_model`: the reader's torch module (encoder + start/end head), for
  training, the torch backend and the export.

Imports nothing of the corpus, index, retrieval or answering stages.
"""
