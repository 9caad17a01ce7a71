"""Typed data shared by every layer: corpus pieces, the index manifest and answers.

All models are frozen pydantic models. Offsets are character offsets into the
decoded text of a corpus file (see ``qa.corpus.ingest.read_document``), end-exclusive,
so ``document.text[x.start:x.end] == x.text`` holds for every sentence, chunk,
answer, citation and passage. Line numbers are 1-based and count ``\\n``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Span(_Frozen):
    """A located piece of a corpus file."""

    source: str = Field(description="Path of the file, relative to the corpus folder, with '/' separators.")
    start: int = Field(ge=0, description="Character offset of the first character.")
    end: int = Field(ge=0, description="Character offset one past the last character.")
    line_start: int = Field(ge=1, description="1-based line of the first character.")
    line_end: int = Field(ge=1, description="1-based line of the last character.")
    text: str = Field(description="Exactly document.text[start:end].")


class Sentence(Span):
    """One sentence, as found by the segmenter."""

    id: int = Field(ge=0, description="Row of this sentence in the index's sentence table.")
    chunk: int = Field(ge=0, description="Row of the first chunk that contains this sentence.")
    paragraph: int = Field(ge=0, description="0-based paragraph number inside its file.")


class Chunk(Span):
    """A run of whole sentences that fits the embedding model's token budget."""

    id: int = Field(ge=0, description="Row of this chunk in the index's chunk table and vector matrix.")
    sentence_start: int = Field(ge=0, description="Row of the chunk's first sentence.")
    sentence_end: int = Field(ge=0, description="Row one past the chunk's last sentence.")
    n_tokens: int = Field(ge=0, description="Model tokens in the chunk (before truncation).")


class Document(_Frozen):
    """A corpus file as read: its decoded text (a leading BOM removed) and content hash."""

    source: str
    text: str
    sha256: str = Field(description="sha256 of the file's bytes.")
    size: int
    mtime_ns: int


class SkippedFile(_Frozen):
    source: str
    reason: str


# --- index manifest -----------------------------------------------------------------


class ChunkingSettings(_Frozen):
    max_tokens: int = Field(description="Token budget per chunk (never above the model's max_seq_length).")
    overlap_sentences: int = Field(description="Sentences repeated at the start of the next chunk.")


class FileEntry(_Frozen):
    sha256: str
    size: int
    mtime_ns: int
    chunks: int
    sentences: int
    skipped: str = Field(default="", description="Why the file is not indexed ('' when it is).")


class IndexManifest(_Frozen):
    format_version: int
    build_id: str
    model: str = Field(description="Model id as configured (name or path).")
    model_sha256: str | None = Field(description="sha256 of the model weights file, when there is one.")
    embedding_runtime: str | None = Field(
        default=None,
        description="'onnx-int8'/'onnx-fp32' when onnxruntime computed the vectors; None: sentence-transformers "
        "(or the model-free hashing embedder). Absent in indexes built before the ONNX runtime existed.",
    )
    runtime_sha256: str | None = Field(
        default=None, description="sha256 of the ONNX file that computed the vectors (see qa.runtime.onnx)."
    )
    dimension: int
    chunking: ChunkingSettings
    tokenizer: int = Field(description="Version of the BM25 tokenizer (qa.index.lexical.TOKENIZER_VERSION).")
    index_type: str = Field(description="FAISS index type used for search: 'flat' or 'ivf'.")
    files: dict[str, FileEntry] = Field(description="Every corpus file seen, indexed or skipped for its content.")
    skipped: list[SkippedFile] = Field(default=[], description="Files not indexed, with the reason.")
    counts: dict[str, int]
    created_at: str
    versions: dict[str, str]


# --- answers ------------------------------------------------------------------------


class Answer(_Frozen):
    text: str = Field(description="Verbatim answer span: file_text[start:end].")
    sentence: str = Field(description="The sentence that holds the span (verbatim).")
    source: str
    start: int
    end: int
    line: int = Field(description="1-based line of the answer's first character.")
    score: float = Field(ge=0.0, le=1.0, description="Estimated probability that the answer is right.")
    sentence_start: int = Field(description="Offset of the sentence in the file, to show the span inside it.")
    sentence_end: int


class Citation(_Frozen):
    source: str
    start: int
    end: int
    line_start: int
    line_end: int
    text: str = Field(description="Verbatim cited text (the supporting sentence).")
    value: str | None = Field(default=None, description="The answer value this source gives, when it has one.")
    value_start: int | None = Field(default=None, description="File offset of that value (inside the cited text).")
    value_end: int | None = None


class Conflict(_Frozen):
    """One of several different values the sources give for what was asked."""

    value: str
    sources: list[str]
    citations: list[Citation]


class Passage(_Frozen):
    source: str
    start: int
    end: int
    line_start: int
    line_end: int
    score: float
    text: str


TENTATIVE = "Possible answer — low confidence"
"""How a tentative answer is labelled, in the chat, ``qa ask`` and ``Response.message``."""


class Response(_Frozen):
    question: str
    answered: bool = Field(
        description="True when qa answers with confidence (status 'answered'); False for a tentative answer "
        "and for a decline. Kept for readers of the JSON from before the tentative tier."
    )
    status: Literal["answered", "tentative", "declined"] = Field(
        description="'answered': a confident answer; 'tentative': the best candidate, shown as a possible "
        "answer with low confidence (``answer`` is set); 'declined': no answer in the corpus.",
    )
    answer: Answer | None = Field(default=None, description="Set when status is 'answered' or 'tentative'.")
    citations: list[Citation] = []
    conflicts: list[Conflict] = Field(
        default=[], description="Empty unless sources give different values; then one entry per value."
    )
    passages: list[Passage] = []
    supporting_sources: int = Field(default=0, description="Files whose text supports the answer.")
    total_sources: int = Field(default=0, description="Files in the corpus.")
    message: str = Field(default="", description="What to tell the user (e.g. 'No answer in the corpus').")
    confidence: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="Estimated probability that the best candidate answer is right, also when qa declines "
        "(equals answer.score when answered).",
    )
    notices: list[str] = Field(default=[], description="Warnings about the input, e.g. a truncated question.")
    query: str = Field(default="", description="The query used for retrieval (after follow-up resolution).")

    @model_validator(mode="before")
    @classmethod
    def _status_from_answered(cls, data):
        """JSON from before the tentative tier has no status: ``answered`` decides it."""
        if isinstance(data, dict) and "status" not in data:
            data = {**data, "status": "answered" if data.get("answered") else "declined"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Response:
        if self.answered != (self.status == "answered"):
            raise ValueError(f"answered={self.answered} contradicts status={self.status!r}")
        return self


# --- service status -----------------------------------------------------------------


class CorpusInfo(_Frozen):
    """What the UI header shows about the loaded corpus and index."""

    corpus: str
    index_dir: str
    files: int
    chunks: int
    sentences: int
    model: str
    index_type: str = "flat"


class BuildReport(_Frozen):
    """What an index build or refresh did."""

    files_indexed: int
    skipped: list[SkippedFile] = []
    chunks: int
    sentences: int
    embedded_files: list[str] = Field(default=[], description="Files (re-)embedded by this run.")
    reused_files: int = Field(default=0, description="Unchanged files whose vectors were reused.")
    removed_files: list[str] = []
    texts_embedded: int = Field(default=0, description="Chunks + sentences sent to the model.")
    full_rebuild: bool = False
    reason: str = Field(default="", description="Why a build happened ('' when the index was up to date).")
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.embedded_files or self.removed_files or self.full_rebuild)
