"""MilvusStore: the index in Milvus (Standalone/Distributed over gRPC, or Milvus Lite in-process).

Collections, for a store named ``N`` (``milvus://HOST:PORT/N``, default ``qa``)::

    N_meta                 key -> value rows: ``head`` (the published build), the manifest in parts,
                           ``lease`` (the builder holding the index)
    N_<build>_chunks       one row per chunk: dense ``vec``, ``terms`` (qa's own stemmed BM25 terms)
                           -> ``sparse`` by Milvus's BM25 function, the text and its citation fields,
                           the file's sha256, and ``born``/``died`` generations
    N_<build>_sentences    one row per sentence: ``vec``, text, citation fields, ``chunk``, generations
    alias N                -> the live chunks collection (for other tools; qa reads ``head``)

Publishing is one upsert of the ``head`` row, so readers switch atomically: a reader at generation
``G`` sees exactly the rows with ``born <= G < died``. A refresh embeds only new and changed files
(by sha256), inserts their rows with ``born = G + 1`` and marks the old rows of changed and removed
files ``died = G + 1`` -- it touches no other row -- then publishes ``G + 1``. A builder killed
half-way leaves ``head`` at ``G``; the next builder drops its unpublished rows. A full build
(``--rebuild``, or a new model) writes new collections and publishes them the same way.

Ids are stable: each file's chunks and sentences get a fresh contiguous block, so a chunk's
sentences are still ``sentence_start .. sentence_end - 1``.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from qa.errors import ConfigError, CorpusError, IndexCorruptError, StoreUnavailableError
from qa.index.folder import default_nprobe, ivf_lists
from qa.index.uri import StoreURI
from qa.models import BuildReport, Chunk, IndexManifest, Sentence, SkippedFile

FORMAT_VERSION = 1
ALIVE = 2**62  # ``died`` of a row that is still live
MAX_TEXT = 65_535  # bytes in a Milvus VARCHAR
MANIFEST_PART = 60_000
BM25_DEPTH = 1024  # lexical matches fetched per query; scores of candidates below it are fetched by id
BATCH = 5000
LEASE_S = 60.0
CONNECT_TIMEOUT_S = 5.0

CHUNK_FIELDS = ["id", "source", "start", "end", "line_start", "line_end", "text", "sentence_start", "sentence_end",
                "n_tokens"]
SENTENCE_FIELDS = ["id", "source", "start", "end", "line_start", "line_end", "text", "chunk", "paragraph"]


def encode_terms(terms: Sequence[str]) -> str:
    """qa's BM25 terms as one string Milvus's standard analyzer splits back into exactly those terms:
    lowercase ASCII letters/digits pass as they are, anything else ('2,000', 'o'neil', 'zürich') as hex."""
    out = []
    for t in terms:
        if t.isascii() and t.isalnum():
            out.append(t)
        else:
            out.append("zq" + t.encode("utf-8").hex())
    return " ".join(out)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class MilvusStore:
    """A :class:`qa.index.store.Store` in Milvus."""

    def __init__(self, uri: StoreURI) -> None:
        self.uri = uri
        self.name = uri.collection
        self.meta = f"{self.name}_meta"
        self._client = None
        self._loaded: set[str] = set()

    # -- connection --------------------------------------------------------------------

    @property
    def client(self):
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self):
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # gRPC core logs (keepalive notices) are not for the user
        import logging

        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise ConfigError("the Milvus store needs pymilvus: pip install 'pymilvus' 'milvus-lite'") from None
        for name in ("pymilvus", "pymilvus.decorators", "milvus_lite"):  # failures surface as one-line QAErrors
            logging.getLogger(name).setLevel(logging.CRITICAL)
        if self.uri.kind == "milvus-lite":
            path = Path(self.uri.address)
            if not path.name.endswith(".db"):
                raise ConfigError(f"{self.uri}: a Milvus Lite path must end in .db, e.g. milvus-lite:index/qa.db")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                return MilvusClient(str(path))
            except Exception as exc:  # noqa: BLE001 - pymilvus raises several types for a busy/unreadable file
                raise StoreUnavailableError(
                    f"cannot open {self.uri} ({_reason(exc)}); Milvus Lite serves one process at a time: "
                    "close the other qa, or run Milvus Standalone (docs/scale.md)"
                ) from None
        try:
            return MilvusClient(uri=f"http://{self.uri.address}", timeout=CONNECT_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001
            raise StoreUnavailableError(f"cannot reach Milvus at {self.uri} ({_reason(exc)})") from None

    def _call(self, fn: Callable, *args, **kwargs):
        """A pymilvus call with its failures as one line naming the store."""
        try:
            return fn(*args, **kwargs)
        except (ConfigError, IndexCorruptError, StoreUnavailableError):
            raise
        except Exception as exc:  # noqa: BLE001 - gRPC and Milvus errors have no common base
            raise StoreUnavailableError(f"Milvus at {self.uri} failed: {_reason(exc)}") from None

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001
                pass
            self._client = None

    # -- meta --------------------------------------------------------------------------

    def _has(self, collection: str) -> bool:
        return bool(self._call(self.client.has_collection, collection))

    def load(self, collection: str) -> None:
        """Make a collection searchable in this client (Milvus Lite releases them between processes)."""
        if collection not in self._loaded:
            self._call(self.client.load_collection, collection)
            self._loaded.add(collection)

    def _ensure_meta(self) -> None:
        if self._has(self.meta):
            return
        from pymilvus import DataType

        c = self.client
        schema = c.create_schema(auto_id=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("value", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
        ip = c.prepare_index_params()
        ip.add_index("v", index_type="FLAT", metric_type="L2")
        self._call(c.create_collection, self.meta, schema=schema, index_params=ip)
        self.load(self.meta)

    def _get(self, key: str) -> dict | None:
        rows = self._call(self.client.query, self.meta, ids=[key], output_fields=["value"])
        if not rows:
            return None
        try:
            return json.loads(rows[0]["value"])
        except ValueError:
            raise IndexCorruptError(f"{self.uri}: meta row {key!r} is damaged; run `qa index --rebuild`") from None

    def _put(self, rows: dict[str, str]) -> None:
        self._call(self.client.upsert, self.meta, [{"key": k, "value": v, "v": [1.0, 0.0]} for k, v in rows.items()])

    def head(self) -> dict | None:
        """The published build: {build, generation, parts, next_chunk, next_sentence, ...}; None if none."""
        if self.meta not in self._loaded:
            if not self._has(self.meta):
                return None
            self.load(self.meta)
        return self._get("head")

    def token(self) -> str | None:
        try:
            head = self.head()
        except StoreUnavailableError:
            return None  # the next open() says why
        return f"{head['build']}:{head['generation']}" if head else None

    def manifest(self, head: dict) -> IndexManifest:
        prefix = f"manifest/{head['build']}/{head['generation']}/"
        keys = [f"{prefix}{i}" for i in range(int(head["parts"]))]
        rows = self._call(self.client.query, self.meta, ids=keys, output_fields=["key", "value"])
        parts = {r["key"]: r["value"] for r in rows}
        if len(parts) != len(keys):
            raise IndexCorruptError(f"{self.uri}: the published manifest is incomplete; run `qa index --rebuild`")
        try:
            return IndexManifest.model_validate_json("".join(parts[k] for k in keys))
        except ValueError:
            raise IndexCorruptError(f"{self.uri}: the published manifest is damaged; run `qa index --rebuild`") from None

    def open(self) -> MilvusView:
        head = self.head()
        if head is None:
            raise IndexCorruptError(f"no index in {self.uri}; run `qa index --store {self.uri}`")
        if head.get("format") != FORMAT_VERSION:
            raise IndexCorruptError(f"{self.uri} holds an index of format {head.get('format')!r}; run `qa index --rebuild`")
        return MilvusView(self, head, self.manifest(head))

    # -- building ----------------------------------------------------------------------

    def refresh(self, settings, embedder_factory, progress=None, force: bool = False, on_wait=None) -> BuildReport:
        from qa.index import build

        t0 = time.perf_counter()
        first = self._plan(settings, force)
        if first.up_to_date:
            return build._report(first, [], 0, t0, full=False)
        self._ensure_meta()
        lease = _Lease(self, settings.index.lock_timeout_s)
        build.acquire(lease, on_wait, f"another qa process is building {self.uri} (waited "
                      f"{settings.index.lock_timeout_s:.0f} s); try again when it has finished")
        try:
            p = self._plan(settings, force)  # another builder may have published while we waited
            if p.up_to_date:
                return build._report(p, [], 0, t0, full=False)
            return self._build(settings, p, embedder_factory(), progress, t0, lease)
        finally:
            lease.release()

    def _plan(self, settings, force: bool):
        from qa.corpus.ingest import list_files
        from qa.index import build

        refs, skipped = list_files(settings.corpus)
        head = self.head()
        manifest = self.manifest(head) if head is not None else None
        full = "full rebuild requested" if force else ("no index yet" if manifest is None else "")
        if manifest is not None and not full:
            why = build.settings_changed(settings, manifest)
            if why:
                raise IndexCorruptError(
                    f"{self.uri} holds vectors of model {manifest.model!r} (dimension {manifest.dimension}) "
                    f"and settings differ: {why}; use another collection or `qa index --rebuild` to replace it"
                )
        p = build.diff(refs, skipped, manifest, head, full)
        return p

    def _build(self, settings, p, embedder, progress, t0: float, lease: _Lease) -> BuildReport:
        from qa.index import build

        def tick(stage: str, done: int, total: int) -> None:
            lease.renew()
            if progress is not None:
                progress(stage, done, total)

        head = p.live
        full = bool(p.full_reason) or head is None
        if not full and head.get("format") != FORMAT_VERSION:
            full, p.full_reason = True, "store format changed"
        if full:
            p.changed, p.unchanged = list(p.refs), {}
            b = uuid.uuid4().hex[:12]
            gen, next_c, next_s = 1, 0, 0
        else:
            b, gen = head["build"], int(head["generation"]) + 1
            next_c, next_s = int(head["next_chunk"]), int(head["next_sentence"])
            for col in (head["chunks"], head["sentences"]):
                self.load(col)
            self._undo_unpublished(b, gen - 1)
        chunks_col, sents_col = f"{self.name}_{b}_chunks", f"{self.name}_{b}_sentences"

        max_tokens = min(settings.chunking.max_tokens, embedder.max_tokens)
        max_bytes = int(settings.index.max_file_mb * 1_000_000)
        files = {} if full else dict(p.manifest.files)
        skipped = list(p.skipped)
        new_chunks: list[Chunk] = []
        new_sents: list[Sentence] = []
        sha: dict[str, str] = {}
        for n, ref in enumerate(p.changed, 1):
            tick("reading", n, len(p.changed))
            entry, f_chunks, f_sents = build.read_file(
                ref, embedder, max_tokens, settings.chunking.overlap_sentences, max_bytes)
            if not entry.skipped and (too_long := _too_long(f_chunks, f_sents)):
                entry = entry.model_copy(update={"chunks": 0, "sentences": 0, "skipped": too_long})
            files[ref.source] = entry
            if entry.skipped:
                skipped.append(SkippedFile(source=ref.source, reason=entry.skipped))
                continue
            new_chunks += build.shift(f_chunks, next_c, next_s)
            new_sents += build.shift(f_sents, next_c, next_s)
            next_c, next_s = next_c + len(f_chunks), next_s + len(f_sents)
            sha[ref.source] = entry.sha256
        for source, entry in p.unchanged.items():
            files[source] = entry
            if entry.skipped:
                skipped.append(SkippedFile(source=source, reason=entry.skipped))
        for source in p.removed:
            files.pop(source, None)

        n_chunks = sum(e.chunks for e in files.values() if not e.skipped)
        n_sents = sum(e.sentences for e in files.values() if not e.skipped)
        if n_chunks == 0:
            first = f"; {len(skipped)} skipped, e.g. {skipped[0].source}: {skipped[0].reason}" if skipped else ""
            raise CorpusError(f"nothing to index in {settings.corpus}: no .txt/.md file with text{first}")
        texts = [c.text for c in new_chunks] + [s.text for s in new_sents]
        vectors = embedder.encode(texts, settings.embedding.batch_size, lambda d, t: tick("embedding", d, t))
        dim = embedder.dimension
        kind = head.get("index_type", "flat") if not full else (
            "ivf" if n_chunks >= settings.index.ann_min_vectors else "flat")
        if full:
            self._create(chunks_col, sents_col, dim, kind, n_chunks, n_sents)
        elif int(head["dimension"]) != dim:
            raise IndexCorruptError(f"{self.uri} holds vectors of dimension {head['dimension']}, the model gives {dim}; "
                                    "use another collection or `qa index --rebuild`")

        tick("writing", 0, 1)
        dying = set(p.removed) | ({ref.source for ref in p.changed} if not full else set())
        if dying:
            self._kill(chunks_col, sents_col, sorted(dying), gen)
        c_vecs, s_vecs = vectors[: len(new_chunks)], vectors[len(new_chunks):]
        self._insert(chunks_col, [_chunk_row(c, v, sha[c.source], gen) for c, v in zip(new_chunks, c_vecs)], tick)
        self._insert(sents_col, [_sentence_row(s, v, sha[s.source], gen) for s, v in zip(new_sents, s_vecs)], tick)
        self._call(self.client.flush, chunks_col)
        self._call(self.client.flush, sents_col)

        manifest = build.new_manifest(settings, embedder, embedder.fingerprint(), kind, files, skipped,
                                      n_chunks, n_sents, FORMAT_VERSION)
        self._publish(settings, head, manifest, b, gen, chunks_col, sents_col, next_c, next_s, dim, kind, n_chunks)
        tick("writing", 1, 1)
        embedded = sorted(sha)
        report_plan = build.Plan(refs=p.refs, skipped=skipped, manifest=manifest, live=None, unchanged=p.unchanged,
                                 changed=p.changed, removed=p.removed, full_reason=p.full_reason)
        return build._report(report_plan, embedded, len(texts), t0, full=full)

    def _publish(self, settings, head, manifest: IndexManifest, b: str, gen: int, chunks_col: str, sents_col: str,
                 next_c: int, next_s: int, dim: int, kind: str, n_chunks: int) -> None:
        manifest = manifest.model_copy(update={"build_id": f"{b}:{gen}", "index_type": kind})
        text = manifest.model_dump_json()
        parts = [text[i : i + MANIFEST_PART] for i in range(0, len(text), MANIFEST_PART)] or [""]
        for i in range(0, len(parts), 100):
            self._put({f"manifest/{b}/{gen}/{j}": parts[j] for j in range(i, min(i + 100, len(parts)))})
        new_head = {
            "format": FORMAT_VERSION, "build": b, "generation": gen, "parts": len(parts), "chunks": chunks_col,
            "sentences": sents_col, "next_chunk": next_c, "next_sentence": next_s, "dimension": dim,
            "model": settings.embedding.model, "index_type": kind,
            "nprobe": settings.index.ivf_nprobe or default_nprobe(n_chunks),
        }
        self._put({"head": json.dumps(new_head)})  # <- the publish: readers switch here
        self._after_publish(head, new_head, chunks_col)

    def publish_rows(self, settings, manifest: IndexManifest, chunks: list[Chunk], sentences: list[Sentence],
                     chunk_vectors: np.ndarray, sentence_vectors: np.ndarray) -> None:
        """Publish ready rows as a new full build (ids as given): for the bench and bulk loads."""
        self._ensure_meta()
        head = self.head()
        b = uuid.uuid4().hex[:12]
        chunks_col, sents_col = f"{self.name}_{b}_chunks", f"{self.name}_{b}_sentences"
        dim = int(chunk_vectors.shape[1])
        kind = "ivf" if len(chunks) >= settings.index.ann_min_vectors else "flat"
        self._create(chunks_col, sents_col, dim, kind, len(chunks), len(sentences))
        sha = {src: e.sha256 for src, e in manifest.files.items()}
        for i in range(0, len(chunks), BATCH):
            self._call(self.client.insert, chunks_col, [_chunk_row(c, v, sha[c.source], 1) for c, v in
                                                        zip(chunks[i : i + BATCH], chunk_vectors[i : i + BATCH])])
        for i in range(0, len(sentences), BATCH):
            self._call(self.client.insert, sents_col, [_sentence_row(x, v, sha[x.source], 1) for x, v in
                                                       zip(sentences[i : i + BATCH], sentence_vectors[i : i + BATCH])])
        for col in (chunks_col, sents_col):
            self._call(self.client.flush, col)
        self._publish(settings, head, manifest, b, 1, chunks_col, sents_col, len(chunks), len(sentences), dim, kind,
                      len(chunks))

    def _create(self, chunks_col: str, sents_col: str, dim: int, kind: str, n_chunks: int, n_sents: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        c = self.client
        for col in (chunks_col, sents_col):
            if self._has(col):
                self._call(c.drop_collection, col)
            self._loaded.discard(col)

        def common(schema) -> None:
            schema.add_field("id", DataType.INT64, is_primary=True)
            for name in ("source", "sha256"):
                schema.add_field(name, DataType.VARCHAR, max_length=4096)
            for name in ("start", "end", "line_start", "line_end", "born", "died"):
                schema.add_field(name, DataType.INT64)
            schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT)
            schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)

        def dense(ip, n: int) -> None:
            if kind == "ivf":
                ip.add_index("vec", index_type="IVF_FLAT", metric_type="IP", params={"nlist": ivf_lists(n)})
            else:
                ip.add_index("vec", index_type="FLAT", metric_type="IP")

        schema = c.create_schema(auto_id=False)
        common(schema)
        for name in ("sentence_start", "sentence_end", "n_tokens"):
            schema.add_field(name, DataType.INT64)
        schema.add_field("terms", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
                         analyzer_params={"type": "standard"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                     output_field_names=["sparse"]))
        ip = c.prepare_index_params()
        dense(ip, n_chunks)
        # k1/b as bm25s (qa's folder store) uses them, so both stores rank alike
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                     params={"bm25_k1": 1.5, "bm25_b": 0.75})
        self._call(c.create_collection, chunks_col, schema=schema, index_params=ip)

        schema = c.create_schema(auto_id=False)
        common(schema)
        for name in ("chunk", "paragraph"):
            schema.add_field(name, DataType.INT64)
        ip = c.prepare_index_params()
        dense(ip, n_sents)
        self._call(c.create_collection, sents_col, schema=schema, index_params=ip)
        for col in (chunks_col, sents_col):
            self._loaded.discard(col)
            self.load(col)

    def _insert(self, col: str, rows: list[dict], tick) -> None:
        for i in range(0, len(rows), BATCH):
            self._call(self.client.insert, col, rows[i : i + BATCH])
            tick("writing", 0, 1)

    def _rows(self, col: str, flt: str) -> list[dict]:
        """Every field of the rows matching ``flt`` (the BM25 output excepted), in pages."""
        fields = ["*"]
        out: list[dict] = []
        it = self._call(self.client.query_iterator, col, filter=flt, output_fields=fields, batch_size=BATCH)
        while True:
            page = self._call(it.next)
            if not page:
                break
            out.extend({k: v for k, v in dict(r).items() if k != "sparse"} for r in page)
        it.close()
        return out

    def _kill(self, chunks_col: str, sents_col: str, sources: list[str], gen: int) -> None:
        """Mark the live rows of ``sources`` dead from generation ``gen`` on (only those rows are written)."""
        for i in range(0, len(sources), 100):
            names = ", ".join(_quote(s) for s in sources[i : i + 100])
            flt = f"source in [{names}] and died == {ALIVE}"
            for col in (chunks_col, sents_col):
                rows = self._rows(col, flt)
                for j in range(0, len(rows), BATCH):
                    self._call(self.client.upsert, col, [r | {"died": gen} for r in rows[j : j + BATCH]])

    def _undo_unpublished(self, b: str, published: int) -> None:
        """A builder killed before publishing left rows born after ``published`` and rows it marked
        dead: drop the first, revive the second."""
        for col in (f"{self.name}_{b}_chunks", f"{self.name}_{b}_sentences"):
            self._call(self.client.delete, col, filter=f"born > {published}")
            rows = self._rows(col, f"died > {published} and died < {ALIVE}")
            for j in range(0, len(rows), BATCH):
                self._call(self.client.upsert, col, [r | {"died": ALIVE} for r in rows[j : j + BATCH]])

    def _after_publish(self, old: dict | None, new: dict, chunks_col: str) -> None:
        """Point the alias at the live chunks, and drop what no reader can see any more: rows dead
        before the previous generation, collections of the build before the previous one."""
        c = self.client
        try:
            if self.name not in (c.list_aliases(chunks_col).get("aliases") or []):
                try:
                    c.alter_alias(chunks_col, self.name)
                except Exception:  # noqa: BLE001 - the alias does not exist yet
                    c.create_alias(chunks_col, self.name)
        except Exception:  # noqa: BLE001 - the alias is a convenience for other tools
            pass
        gen = int(new["generation"])
        if old is not None and old["build"] == new["build"]:
            for col in (new["chunks"], new["sentences"]):
                self._call(c.delete, col, filter=f"died <= {gen - 1}")
        keep = {new["chunks"], new["sentences"]}
        if old is not None:
            keep |= {old["chunks"], old["sentences"]}
        prefix = f"{self.name}_"
        for col in self._call(c.list_collections):
            if col.startswith(prefix) and col.endswith(("_chunks", "_sentences")) and col not in keep:
                self._call(c.drop_collection, col)
        stale = [f"manifest/{new['build']}/{g}/" for g in range(1, gen - 1)]
        if stale:
            self._call(c.delete, self.meta, filter=" or ".join(f'key like "{s}%"' for s in stale[-50:]))


class _Lease:
    """The builder's lease: a ``lease`` row in the meta collection with its owner and expiry, so a
    second builder (another process or machine) waits for it, then is refused. Milvus has no
    compare-and-set: the owner is read back after writing, and a later write wins."""

    def __init__(self, store: MilvusStore, timeout: float) -> None:
        self.store = store
        self.timeout = timeout
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.renewed = 0.0

    def acquire(self, timeout: float | None = None) -> None:
        from filelock import Timeout

        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while True:
            lease = self.store._get("lease")
            if lease is None or lease.get("owner") == self.me or float(lease.get("expires", 0)) < time.time():
                self._write()
                time.sleep(0.05)
                again = self.store._get("lease")
                if again is not None and again.get("owner") == self.me:
                    return
            if time.monotonic() >= deadline:
                raise Timeout(self.store.meta)
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    def _write(self) -> None:
        self.renewed = time.monotonic()
        self.store._put({"lease": json.dumps({"owner": self.me, "expires": time.time() + LEASE_S})})

    def renew(self) -> None:
        if time.monotonic() - self.renewed > LEASE_S / 3:
            self._write()

    def release(self) -> None:
        try:
            lease = self.store._get("lease")
            if lease is not None and lease.get("owner") == self.me:
                self.store._call(self.store.client.delete, self.store.meta, ids=["lease"])
        except (StoreUnavailableError, IndexCorruptError):
            pass  # it expires by itself


def _too_long(chunks: list[Chunk], sentences: list[Sentence]) -> str:
    from qa.index.lexical import terms

    for c in chunks:
        if len(c.text.encode("utf-8")) > MAX_TEXT or len(encode_terms(terms(c.text))) > MAX_TEXT:
            return f"a passage longer than Milvus's {MAX_TEXT:,}-byte text field (line {c.line_start})"
    for s in sentences:
        if len(s.text.encode("utf-8")) > MAX_TEXT:
            return f"a sentence longer than Milvus's {MAX_TEXT:,}-byte text field (line {s.line_start})"
    return ""


def _chunk_row(c: Chunk, vec: np.ndarray, sha: str, gen: int) -> dict:
    from qa.index.lexical import terms

    row = c.model_dump(include=set(CHUNK_FIELDS))
    return row | {"terms": encode_terms(terms(c.text) or ["\u2205"]), "vec": np.asarray(vec, np.float32).tolist(),
                  "sha256": sha, "born": gen, "died": ALIVE}


def _sentence_row(s: Sentence, vec: np.ndarray, sha: str, gen: int) -> dict:
    row = s.model_dump(include=set(SENTENCE_FIELDS))
    return row | {"vec": np.asarray(vec, np.float32).tolist(), "sha256": sha, "born": gen, "died": ALIVE}


def _reason(exc: Exception) -> str:
    msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(msg).split())[:200]


class MilvusView:
    """One published generation, read through Milvus; rows fetched for a question are cached."""

    CACHE_ROWS = 200_000

    def __init__(self, store: MilvusStore, head: dict, manifest: IndexManifest) -> None:
        self.store = store
        self.head = head
        self.manifest = manifest
        self.gen = int(head["generation"])
        self.live = f"born <= {self.gen} and died > {self.gen}"
        self.chunks_col, self.sents_col = head["chunks"], head["sentences"]
        self.nprobe = int(head.get("nprobe") or 8)
        for col in (self.chunks_col, self.sents_col):
            store.load(col)
        self._chunks: dict[int, tuple[Chunk, np.ndarray]] = {}
        self._sents: dict[int, tuple[Sentence, np.ndarray]] = {}
        self._bm25: tuple[tuple[str, ...], dict[int, float], bool] | None = None

    @property
    def token(self) -> str:
        return f"{self.head['build']}:{self.gen}"

    @property
    def n_chunks(self) -> int:
        return int(self.manifest.counts.get("chunks", 0))

    # -- searching -----------------------------------------------------------------------

    def _search(self, col: str, data, field: str, k: int, metric: str, flt: str, out=()) -> list[dict]:
        params = {"metric_type": metric}
        if metric == "IP":
            params["params"] = {"nprobe": self.nprobe}
        res = self.store._call(self.store.client.search, col, data=data, anns_field=field, limit=k,
                               filter=flt, output_fields=list(out), search_params=params)
        return list(res[0]) if res else []

    def search_chunks(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        hits = self._search(self.chunks_col, [q.tolist()], "vec", k, "IP", self.live)
        return (np.array([h["distance"] for h in hits], dtype=np.float32),
                np.array([h["id"] for h in hits], dtype=np.int64))

    def search_sentences(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        hits = self._search(self.sents_col, [q.tolist()], "vec", k, "IP", self.live, out=("chunk",))
        return (np.array([h["distance"] for h in hits], dtype=np.float32),
                np.array([h["entity"]["chunk"] for h in hits], dtype=np.int64))

    def _lexical(self, query_terms: Sequence[str]) -> tuple[dict[int, float], bool]:
        key = tuple(query_terms)
        if self._bm25 is None or self._bm25[0] != key:
            text = encode_terms(key)
            hits = self._search(self.chunks_col, [text], "sparse", BM25_DEPTH, "BM25", self.live) if text else []
            # Milvus Lite reports BM25 as a negative distance, Milvus as a positive score
            scores = {int(h["id"]): abs(float(h["distance"])) for h in hits}
            self._bm25 = (key, {c: s for c, s in scores.items() if s > 0}, len(hits) >= BM25_DEPTH)
        return self._bm25[1], self._bm25[2]

    def bm25_top(self, query_terms: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, _ = self._lexical(query_terms)
        top = sorted(scores.items(), key=lambda x: -x[1])[:k]
        return np.array([c for c, _ in top], dtype=np.int64), np.array([s for _, s in top], dtype=np.float32)

    def bm25_of(self, query_terms: Sequence[str], ids: np.ndarray) -> np.ndarray:
        scores, deeper = self._lexical(query_terms)
        missing = [int(c) for c in ids if int(c) not in scores]
        if deeper and missing:  # candidates below the fetched depth: score just those
            text = encode_terms(tuple(query_terms))
            flt = f"{self.live} and id in [{', '.join(map(str, missing))}]"
            for h in self._search(self.chunks_col, [text], "sparse", len(missing), "BM25", flt):
                scores[int(h["id"])] = abs(float(h["distance"]))
        return np.array([scores.get(int(c), 0.0) for c in ids], dtype=np.float32)

    def hybrid(self, q: np.ndarray, query_terms: Sequence[str], k: int, candidates: int = 50) -> list[int]:
        """Chunk ids from Milvus's own ``hybrid_search`` (dense + BM25, fused by its RRF ranker, k=60):
        the alternative to qa's score fusion, kept for measuring the two (eval/retrieval_dev.py)."""
        from pymilvus import AnnSearchRequest, RRFRanker

        requests = [AnnSearchRequest(data=[q.tolist()], anns_field="vec", param={"metric_type": "IP"},
                                     limit=candidates, expr=self.live)]
        text = encode_terms(tuple(query_terms))
        if text:
            requests.append(AnnSearchRequest(data=[text], anns_field="sparse", param={"metric_type": "BM25"},
                                             limit=candidates, expr=self.live))
        res = self.store._call(self.store.client.hybrid_search, self.chunks_col, requests, RRFRanker(60), limit=k)
        return [int(h["id"]) for h in (res[0] if res else [])]

    # -- rows ------------------------------------------------------------------------------

    def _trim(self) -> None:
        if len(self._chunks) > self.CACHE_ROWS:
            self._chunks.clear()
        if len(self._sents) > self.CACHE_ROWS:
            self._sents.clear()

    def _query(self, col: str, flt: str, fields: list[str]) -> list[dict]:
        return list(self.store._call(self.store.client.query, col, filter=flt, output_fields=[*fields, "vec"]))

    def prefetch(self, chunk_ids: Sequence[int]) -> None:
        self._trim()
        missing = sorted({int(c) for c in chunk_ids} - self._chunks.keys())
        for i in range(0, len(missing), BATCH):
            part = missing[i : i + BATCH]
            for r in self._query(self.chunks_col, f"id in [{', '.join(map(str, part))}]", CHUNK_FIELDS):
                self._chunks[int(r["id"])] = (Chunk.model_validate({k: r[k] for k in CHUNK_FIELDS}),
                                              np.asarray(r["vec"], dtype=np.float32))
        rows: set[int] = set()
        for c in chunk_ids:
            got = self._chunks.get(int(c))
            if got is not None:
                rows.update(range(got[0].sentence_start, got[0].sentence_end))
        self._fetch_sentences(sorted(rows - self._sents.keys()))

    def _fetch_sentences(self, ids: list[int]) -> None:
        for i in range(0, len(ids), BATCH):
            part = ids[i : i + BATCH]
            for r in self._query(self.sents_col, f"id in [{', '.join(map(str, part))}]", SENTENCE_FIELDS):
                self._sents[int(r["id"])] = (Sentence.model_validate({k: r[k] for k in SENTENCE_FIELDS}),
                                             np.asarray(r["vec"], dtype=np.float32))

    def _chunk(self, cid: int) -> tuple[Chunk, np.ndarray]:
        got = self._chunks.get(cid)
        if got is None:
            self.prefetch([cid])
            got = self._chunks.get(cid)
            if got is None:
                raise IndexCorruptError(f"{self.store.uri}: chunk {cid} is missing; run `qa index --rebuild`")
        return got

    def _sentence(self, sid: int) -> tuple[Sentence, np.ndarray]:
        got = self._sents.get(sid)
        if got is None:
            self._fetch_sentences([sid])
            got = self._sents.get(sid)
            if got is None:
                raise IndexCorruptError(f"{self.store.uri}: sentence {sid} is missing; run `qa index --rebuild`")
        return got

    def chunk(self, cid: int) -> Chunk:
        return self._chunk(int(cid))[0]

    def sentence(self, sid: int) -> Sentence:
        return self._sentence(int(sid))[0]

    def sentence_range(self, first: int, last: int) -> list[Sentence]:
        self._fetch_sentences([s for s in range(first, last) if s not in self._sents])
        return [self._sentence(s)[0] for s in range(first, last)]

    def vectors_of_chunks(self, ids: np.ndarray) -> np.ndarray:
        self.prefetch(ids)
        dim = self.manifest.dimension
        if len(ids) == 0:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([self._chunk(int(c))[1] for c in ids])

    def vectors_of_sentences(self, first: int, last: int) -> np.ndarray:
        if last <= first:
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        self._fetch_sentences([s for s in range(first, last) if s not in self._sents])
        return np.stack([self._sentence(s)[1] for s in range(first, last)])
