"""The query path as it was before the ONNX runtime, for same-run comparisons in ``qa bench``.

``python -m qa.bench.old_path ARGS...`` runs ``qa ARGS...`` with the embedder on
sentence-transformers (``embedding.runtime = "torch"``) and the learned reader on torch
(``NeuralReader(backend="torch")``): the same weights, the same answers' code, torch loaded.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ["QA_EMBEDDING__RUNTIME"] = "torch"
    import qa.answering.readers.neural as neural

    init = neural.NeuralReader.__init__

    def torch_init(self, *args, **kwargs) -> None:
        kwargs.setdefault("backend", "torch")
        init(self, *args, **kwargs)

    neural.NeuralReader.__init__ = torch_init
    from qa.cli import main as qa_main

    return int(qa_main(sys.argv[1:] if argv is None else argv) or 0)


if __name__ == "__main__":
    sys.exit(main())
