"""The learned reader's network: a BERT encoder (all-MiniLM-L6-v2's weights) and a span head.

The head maps each token's vector to a start and an end logit; the [CLS] token's pair is the
no-answer score. The shipped file holds everything but the word-embedding matrix, which
training keeps frozen at the base model's values: at load it is taken from the packaged base
weights (sha256-pinned), so the reader file stays small (fp16, ~22 MB) and cannot drift from
the tokenizer it was trained with.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

WORD_EMBEDDINGS = "encoder.embeddings.word_embeddings.weight"


class SpanModel(nn.Module):
    def __init__(self, config) -> None:
        super().__init__()
        from transformers import BertModel

        self.encoder = BertModel(config, add_pooling_layer=False)
        self.head = nn.Linear(config.hidden_size, 2)

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        logits = self.head(hidden)
        start, end = logits.unbind(-1)
        return start.float(), end.float()


def base_config(base_dir: Path):
    from transformers import BertConfig

    cfg = json.loads((Path(base_dir) / "config.json").read_text())
    cfg.pop("_name_or_path", None)
    cfg.pop("architectures", None)
    config = BertConfig(**cfg)
    config._attn_implementation = "sdpa"
    return config


def from_base(base_dir: Path, seed: int = 0) -> SpanModel:
    """A fresh reader: encoder weights from the base folder's model.safetensors, a new head."""
    from safetensors.torch import load_file

    torch.manual_seed(seed)
    model = SpanModel(base_config(base_dir))
    state = load_file(str(Path(base_dir) / "model.safetensors"))
    state = {f"encoder.{k}": v.float() for k, v in state.items() if not k.startswith("pooler.")}
    state.pop("encoder.embeddings.position_ids", None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("head.")]
    if missing or unexpected:
        raise ValueError(f"base weights do not fit the reader: missing {missing[:3]}, unexpected {unexpected[:3]}")
    nn.init.normal_(model.head.weight, std=0.02)
    nn.init.zeros_(model.head.bias)
    return model


def reader_state(model: SpanModel, *, include_word_embeddings: bool, dtype=torch.float16) -> dict[str, torch.Tensor]:
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    state.pop("encoder.embeddings.position_ids", None)
    if not include_word_embeddings:
        state.pop(WORD_EMBEDDINGS)
    return state


def load_reader(weights: Path, base_dir: Path) -> SpanModel:
    """A reader from a saved state (fp16 or fp32); the word embeddings come from ``base_dir`` when absent."""
    from safetensors.torch import load_file

    model = SpanModel(base_config(base_dir))
    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    if WORD_EMBEDDINGS not in state:
        base = load_file(str(Path(base_dir) / "model.safetensors"))
        state[WORD_EMBEDDINGS] = base["embeddings.word_embeddings.weight"].float()
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"{weights} is not a reader for this base model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.eval()
    return model
