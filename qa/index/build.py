"""Build or refresh the index for a corpus: only changed files are embedded again.

``plan()`` compares the corpus with the live build's manifest without loading the
model (sizes and mtimes first, content hashes only for files that look changed), so
an unchanged corpus costs a directory walk. ``refresh()`` takes the cross-process
lock, re-plans, embeds what changed, and publishes a new build atomically.
"""

from __future__ import annotations

import importlib.metadata as md
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from qa.config import Settings
from qa.corpus.ingest import FileRef, chunk_sentences, list_files, read_document, split_sentences
from qa.errors import CorpusError, IndexCorruptError, IndexLockedError
from qa.hashing import file_sha256
from qa.index import folder as store
from qa.index.lexical import TOKENIZER_VERSION, BM25Index
from qa.models import BuildReport, Chunk, ChunkingSettings, FileEntry, IndexManifest, Sentence, SkippedFile
from qa.runtime.embedder import Embedder, runtime_changed

Progress = Callable[[str, int, int], None]


@dataclass
class Plan:
    """What a refresh has to do."""

    refs: list[FileRef]
    skipped: list[SkippedFile]
    manifest: IndexManifest | None
    live: Path | None
    unchanged: dict[str, FileEntry] = field(default_factory=dict)  # source -> entry (mtime refreshed)
    changed: list[FileRef] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    full_reason: str = ""

    @property
    def up_to_date(self) -> bool:
        return not (self.full_reason or self.changed or self.removed)

    @property
    def reason(self) -> str:
        if self.full_reason:
            return self.full_reason
        parts = []
        if self.changed:
            parts.append(f"{len(self.changed)} new or changed file(s)")
        if self.removed:
            parts.append(f"{len(self.removed)} removed file(s)")
        return ", ".join(parts)


def plan(settings: Settings, force: bool = False) -> Plan:
    refs, skipped = list_files(settings.corpus)
    manifest = None
    full = "full rebuild requested" if force else ""
    try:
        live = store.current_build(settings.index_dir) if settings.index_dir.exists() else None
    except IndexCorruptError as exc:
        if not (settings.index_dir / store.CURRENT).is_file():
            raise  # e.g. CURRENT is a folder: replacing it would fail too
        live, full = None, full or f"index damaged: {exc}"  # CURRENT names no build: replace it
    if live is None:
        full = full or "no index yet"
    else:
        try:
            manifest = store.verify_build(live)
        except IndexCorruptError as exc:
            full = full or f"index damaged: {exc}"
    if manifest is not None and not full:
        full = settings_changed(settings, manifest)
    return diff(refs, skipped, manifest, live, full)


def settings_changed(settings: Settings, manifest: IndexManifest) -> str:
    """Why an index built under ``manifest`` must be rebuilt whole for ``settings`` ('' when it need not)."""
    if manifest.model != settings.embedding.model:
        return f"model changed ({manifest.model} -> {settings.embedding.model})"
    if why := runtime_changed(settings.embedding, manifest.embedding_runtime, manifest.runtime_sha256):
        return why
    if manifest.chunking != _chunking(settings):
        return "chunking settings changed"
    if manifest.tokenizer != TOKENIZER_VERSION:
        return "tokenizer changed"
    return ""


def diff(refs: list[FileRef], skipped: list[SkippedFile], manifest: IndexManifest | None, live, full: str) -> Plan:
    """Which files are new, changed (size, then content hash) or removed since ``manifest``."""
    p = Plan(refs=refs, skipped=skipped, manifest=manifest, live=live, full_reason=full)
    old = manifest.files if manifest is not None else {}
    for ref in refs:
        entry = old.get(ref.source)
        if entry is None:
            p.changed.append(ref)
        elif entry.size == ref.size and entry.mtime_ns == ref.mtime_ns:
            p.unchanged[ref.source] = entry
        elif entry.size == ref.size and _same_hash(ref, entry.sha256):
            p.unchanged[ref.source] = entry.model_copy(update={"mtime_ns": ref.mtime_ns})
        else:
            p.changed.append(ref)
    present = {r.source for r in refs}
    p.removed = sorted(s for s in old if s not in present)
    return p


def _same_hash(ref: FileRef, sha: str) -> bool:
    try:
        return file_sha256(ref.path) == sha
    except OSError:
        return False


def _chunking(settings: Settings) -> ChunkingSettings:
    return ChunkingSettings(
        max_tokens=settings.chunking.max_tokens, overlap_sentences=settings.chunking.overlap_sentences
    )


def lock_for(index_dir: Path, timeout: float) -> FileLock:
    index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(index_dir / ".lock"), timeout=timeout)


def refresh(
    settings: Settings,
    embedder_factory: Callable[[], Embedder],
    progress: Progress | None = None,
    force: bool = False,
    on_wait: Callable[[], None] | None = None,
) -> BuildReport:
    """Bring the index up to date. Loads the model only when something must be embedded."""
    t0 = time.perf_counter()
    first = plan(settings, force)
    if first.up_to_date:
        return _report(first, [], 0, t0, full=False)
    lock = lock_for(settings.index_dir, settings.index.lock_timeout_s)
    acquire(lock, on_wait, f"another qa process is building the index in {settings.index_dir} "
            f"(waited {settings.index.lock_timeout_s:.0f} s); try again when it has finished")
    try:
        # Another process may have published while we waited: plan again under the lock.
        p = plan(settings, force)
        if p.up_to_date:
            return _report(p, [], 0, t0, full=False)
        return _build(settings, p, embedder_factory(), progress, t0)
    finally:
        lock.release()


def acquire(lock, on_wait: Callable[[], None] | None, busy: str) -> None:
    """Take ``lock`` (a FileLock or anything with ``acquire(timeout=)``), telling ``on_wait`` when it
    must wait; IndexLockedError(``busy``) when its timeout passes."""
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait()
        try:
            lock.acquire()
        except Timeout:
            raise IndexLockedError(busy) from None


def _build(settings: Settings, p: Plan, embedder: Embedder, progress: Progress | None, t0: float) -> BuildReport:
    def tick(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    store.remove_stale(settings.index_dir, keep=p.live)
    fingerprint = embedder.fingerprint()
    max_tokens = min(settings.chunking.max_tokens, embedder.max_tokens)
    old = None
    if not p.full_reason and p.live is not None:
        try:
            old = store.load_build(p.live)
        except IndexCorruptError as exc:
            p.full_reason = f"index damaged: {exc}"
    if p.full_reason:
        p.changed = list(p.refs)
        p.unchanged = {}

    changed = {ref.source for ref in p.changed}
    max_bytes = int(settings.index.max_file_mb * 1_000_000)
    skipped = list(p.skipped)
    # Per file: (entry-fields, chunk pieces, sentence pieces, vectors or None)
    files: dict[str, FileEntry] = {}
    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    chunk_rows: list[np.ndarray | None] = []  # per chunk: reused vector or None
    sentence_rows: list[np.ndarray | None] = []
    todo_texts: list[str] = []
    todo_targets: list[tuple[str, int]] = []  # ("c"|"s", row)
    old_by_source = _group(old) if old is not None else {}

    total = len(p.refs)
    for n, ref in enumerate(p.refs, 1):
        tick("reading", n, total)
        kept = p.unchanged.get(ref.source)
        if kept is not None and kept.skipped:
            files[ref.source] = kept
            skipped.append(SkippedFile(source=ref.source, reason=kept.skipped))
            continue
        if ref.source not in changed and ref.source in old_by_source:
            o_chunks, o_sents = old_by_source[ref.source]
            c_base, s_base = len(chunks), len(sentences)
            c_shift = c_base - o_chunks[0].id
            s_shift = s_base - o_sents[0].id
            for c in o_chunks:
                chunks.append(c.model_copy(update={
                    "id": c.id + c_shift,
                    "sentence_start": c.sentence_start + s_shift,
                    "sentence_end": c.sentence_end + s_shift,
                }))
                chunk_rows.append(old.chunk_vectors[c.id])
            for s in o_sents:
                sentences.append(s.model_copy(update={"id": s.id + s_shift, "chunk": s.chunk + c_shift}))
                sentence_rows.append(old.sentence_vectors[s.id])
            files[ref.source] = p.unchanged[ref.source]
            continue
        entry, f_chunks, f_sents = read_file(ref, embedder, max_tokens, settings.chunking.overlap_sentences, max_bytes)
        files[ref.source] = entry
        if entry.skipped:
            skipped.append(SkippedFile(source=ref.source, reason=entry.skipped))
            continue
        c_base, s_base = len(chunks), len(sentences)
        for c in shift(f_chunks, c_base, s_base):
            chunks.append(c)
            chunk_rows.append(None)
            todo_texts.append(c.text)
            todo_targets.append(("c", c.id))
        for sent in shift(f_sents, c_base, s_base):
            sentences.append(sent)
            sentence_rows.append(None)
            todo_texts.append(sent.text)
            todo_targets.append(("s", sent.id))

    if not chunks:  # bm25s and FAISS cannot hold an empty index; a build with nothing would answer nothing
        first = f"; {len(skipped)} skipped, e.g. {skipped[0].source}: {skipped[0].reason}" if skipped else ""
        raise CorpusError(f"nothing to index in {settings.corpus}: no .txt/.md file with text{first}")
    dim = embedder.dimension
    vectors = embedder.encode(
        todo_texts, settings.embedding.batch_size, lambda d, t: tick("embedding", d, t)
    )
    chunk_matrix = _assemble(chunk_rows, dim)
    sentence_matrix = _assemble(sentence_rows, dim)
    for (kind, row), vec in zip(todo_targets, vectors):
        (chunk_matrix if kind == "c" else sentence_matrix)[row] = vec

    tick("writing", 0, 1)
    kind = store.choose_index_type(len(chunks), settings.index.ann_min_vectors)
    s_kind = store.choose_index_type(len(sentences), settings.index.ann_min_vectors)
    nprobe = settings.index.ivf_nprobe
    chunk_search = store.VectorIndex.build(chunk_matrix, kind, nprobe)
    sentence_search = store.VectorIndex.build(sentence_matrix, s_kind, nprobe)
    bm25 = BM25Index.build([c.text for c in chunks])
    manifest = new_manifest(settings, embedder, fingerprint, kind, files, skipped, len(chunks), len(sentences),
                            store.FORMAT_VERSION)
    build_id = manifest.build_id
    final = store.write_build(
        settings.index_dir, build_id, manifest, chunks, sentences, chunk_matrix, sentence_matrix,
        chunk_search, sentence_search, bm25,
    )
    store.remove_stale(settings.index_dir, keep=final)
    tick("writing", 1, 1)
    embedded = sorted(s for s in changed if s in files and not files[s].skipped)
    report_plan = Plan(refs=p.refs, skipped=skipped, manifest=manifest, live=final,
                       unchanged=p.unchanged, changed=p.changed, removed=p.removed, full_reason=p.full_reason)
    return _report(report_plan, embedded, len(todo_texts), t0, full=bool(p.full_reason))


def read_file(
    ref: FileRef, embedder: Embedder, max_tokens: int, overlap: int, max_bytes: int
) -> tuple[FileEntry, list[Chunk], list[Sentence]]:
    """One file's chunks and sentences, numbered from 0 within the file (``shift`` places them);
    an entry with ``skipped`` set, and no rows, when the file cannot be indexed."""
    try:
        doc = read_document(ref, max_bytes)
    except ValueError as exc:
        return FileEntry(sha256="", size=ref.size, mtime_ns=ref.mtime_ns, chunks=0, sentences=0,
                         skipped=str(exc)), [], []
    sent_pieces = split_sentences(doc.text)
    if not sent_pieces:
        return FileEntry(sha256=doc.sha256, size=doc.size, mtime_ns=doc.mtime_ns, chunks=0, sentences=0,
                         skipped="no sentences found"), [], []
    counts = embedder.count_tokens([s.text for s in sent_pieces])
    chunk_pieces = chunk_sentences(doc.text, sent_pieces, counts, max_tokens, overlap)
    first_chunk = [0] * len(sent_pieces)
    for ci in range(len(chunk_pieces) - 1, -1, -1):
        for si in range(chunk_pieces[ci].sentence_start, chunk_pieces[ci].sentence_end):
            first_chunk[si] = ci
    chunks = [
        Chunk(id=ci, source=ref.source, start=c.start, end=c.end, line_start=c.line_start, line_end=c.line_end,
              text=c.text, sentence_start=c.sentence_start, sentence_end=c.sentence_end, n_tokens=c.n_tokens)
        for ci, c in enumerate(chunk_pieces)
    ]
    sentences = [
        Sentence(id=si, source=ref.source, start=s.start, end=s.end, line_start=s.line_start, line_end=s.line_end,
                 text=s.text, chunk=first_chunk[si], paragraph=s.paragraph)
        for si, s in enumerate(sent_pieces)
    ]
    entry = FileEntry(sha256=doc.sha256, size=doc.size, mtime_ns=doc.mtime_ns,
                      chunks=len(chunks), sentences=len(sentences))
    return entry, chunks, sentences


def shift(rows, c_base: int, s_base: int) -> list:
    """A file's chunks or sentences renumbered to start at chunk ``c_base`` and sentence ``s_base``."""
    out = []
    for r in rows:
        if isinstance(r, Chunk):
            out.append(r.model_copy(update={"id": r.id + c_base, "sentence_start": r.sentence_start + s_base,
                                            "sentence_end": r.sentence_end + s_base}))
        else:
            out.append(r.model_copy(update={"id": r.id + s_base, "chunk": r.chunk + c_base}))
    return out


def new_manifest(settings: Settings, embedder: Embedder, fingerprint: str | None, index_type: str,
                 files: dict[str, FileEntry], skipped: list[SkippedFile], n_chunks: int, n_sentences: int,
                 format_version: int = 1) -> IndexManifest:
    build_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    return IndexManifest(
        format_version=format_version,
        build_id=build_id,
        model=settings.embedding.model,
        model_sha256=fingerprint,
        embedding_runtime=getattr(embedder, "runtime", None),
        runtime_sha256=getattr(embedder, "runtime_sha256", None),
        dimension=embedder.dimension,
        chunking=_chunking(settings),
        tokenizer=TOKENIZER_VERSION,
        index_type=index_type,
        files=files,
        skipped=skipped,
        counts={
            "files": sum(1 for e in files.values() if not e.skipped),
            "chunks": n_chunks,
            "sentences": n_sentences,
        },
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        versions=_versions(),
    )


def _group(old: store.LoadedIndex) -> dict[str, tuple[list[Chunk], list[Sentence]]]:
    out: dict[str, tuple[list[Chunk], list[Sentence]]] = {}
    for c in old.chunks:
        out.setdefault(c.source, ([], []))[0].append(c)
    for s in old.sentences:
        out.setdefault(s.source, ([], []))[1].append(s)
    return out


def _assemble(rows: list[np.ndarray | None], dim: int) -> np.ndarray:
    out = np.zeros((len(rows), dim), dtype=np.float32)
    for i, row in enumerate(rows):
        if row is not None:
            out[i] = row
    return out


def _versions() -> dict[str, str]:
    out = {}
    for name in ("qa", "faiss-cpu", "sentence-transformers", "torch", "onnxruntime", "tokenizers", "bm25s",
                 "syntok", "numpy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def _report(p: Plan, embedded: list[str], n_texts: int, t0: float, full: bool) -> BuildReport:
    manifest = p.manifest
    files = manifest.files if manifest is not None else {}
    counts = manifest.counts if manifest is not None else {}
    content_skips = [SkippedFile(source=s, reason=e.skipped) for s, e in files.items() if e.skipped]
    listed = {s.source for s in content_skips}
    return BuildReport(
        files_indexed=sum(1 for e in files.values() if not e.skipped),
        skipped=[s for s in p.skipped if s.source not in listed] + content_skips,
        chunks=counts.get("chunks", 0),
        sentences=counts.get("sentences", 0),
        embedded_files=embedded,
        reused_files=0 if full else sum(1 for e in p.unchanged.values() if not e.skipped),
        removed_files=p.removed,
        texts_embedded=n_texts,
        full_rebuild=full,
        reason="" if p.up_to_date else p.reason,
        seconds=time.perf_counter() - t0,
    )
