"""Store URIs: where an index lives, parsed from ``--store`` / ``store.uri`` (no store is opened here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qa.errors import ConfigError


@dataclass(frozen=True)
class StoreURI:
    """Where an index lives: ``kind`` is 'folder', 'milvus' or 'milvus-lite'."""

    kind: str
    address: str = ""  # folder path, HOST:PORT, or the Milvus Lite data path
    collection: str = "qa"

    def __str__(self) -> str:
        if self.kind == "folder":
            return self.address
        if self.kind == "milvus":
            return f"milvus://{self.address}/{self.collection}"
        return f"milvus-lite:{self.address}" + (f"#{self.collection}" if self.collection != "qa" else "")


def parse_store_uri(uri: str | None, index_dir: Path) -> StoreURI:
    """``None``/'' or 'folder' -> the index folder; ``milvus://HOST:PORT[/COLLECTION]``;
    ``milvus-lite:PATH[#COLLECTION]``. A bad URI is a one-line ConfigError."""
    uri = (uri or "").strip()
    if not uri or uri == "folder":
        return StoreURI("folder", str(index_dir))
    if uri.startswith("milvus://"):
        rest = uri[len("milvus://"):]
        address, _, collection = rest.partition("/")
        collection = collection.strip("/") or "qa"
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"store URI {uri!r} needs a host and port: milvus://HOST:PORT[/COLLECTION]")
        return StoreURI("milvus", address, _collection_name(collection, uri))
    if uri.startswith("milvus-lite:"):
        rest = uri[len("milvus-lite:"):]
        path, _, collection = rest.partition("#")
        if not path:
            raise ConfigError(f"store URI {uri!r} needs a path: milvus-lite:PATH")
        return StoreURI("milvus-lite", path, _collection_name(collection or "qa", uri))
    raise ConfigError(
        f"unknown store {uri!r}: use 'folder', milvus://HOST:PORT[/COLLECTION] or milvus-lite:PATH"
    )


def _collection_name(name: str, uri: str) -> str:
    if not (name[:1].isalpha() or name[:1] == "_") or not all(ch.isalnum() or ch == "_" for ch in name) or len(name) > 200:
        raise ConfigError(f"collection name in {uri!r} must be letters, digits and underscores, starting with a letter")
    return name
