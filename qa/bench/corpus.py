"""The corpus indexed by the throughput benchmark: SQuAD 2.0 dev paragraphs, written as articles.

The SQuAD file is read by path (``../shared/data`` beside the project by default) and
never copied into the project: each article becomes one ``.txt`` file in a temporary
folder (title, blank line, paragraphs separated by blank lines). Without the file the
seed articles are repeated with their paragraphs rotated, so the benchmark still runs.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_SQUAD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "squad2-dev-5articles.json"


def squad_articles(path: Path) -> list[tuple[str, list[str]]]:
    """(title, paragraphs) of every article of a SQuAD JSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for article in data.get("data", []):
        paragraphs = [p["context"].strip() for p in article.get("paragraphs", []) if p.get("context", "").strip()]
        if paragraphs:
            out.append((str(article.get("title", "untitled")).replace("_", " "), paragraphs))
    return out


def seed_articles(corpus: Path) -> list[tuple[str, list[str]]]:
    """(file stem, paragraphs) of the corpus's own articles."""
    files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".txt", ".md") and p.is_file())
    out = []
    for f in files:
        paras = [p.strip() for p in f.read_text(encoding="utf-8", errors="replace").split("\n\n") if p.strip()]
        if paras:
            out.append((f.stem, paras))
    return out


def write_articles(articles: list[tuple[str, list[str]]], folder: Path) -> list[Path]:
    """One ``NNN.txt`` file per article in ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, (title, paragraphs) in enumerate(articles):
        path = folder / f"{n:03d}.txt"
        path.write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def rotated(articles: list[tuple[str, list[str]]], copies: int) -> list[tuple[str, list[str]]]:
    """Each article ``copies`` times; copy k starts at its k-th paragraph (so chunks differ)."""
    out = []
    for k in range(copies):
        for title, paras in articles:
            r = k % len(paras)
            out.append((title if k == 0 else f"{title} (variant {k})", paras[r:] + paras[:r]))
    return out


def make_bench_corpus(folder: Path, squad: Path | None, seeds: Path, max_articles: int | None, copies: int = 1) -> str:
    """Write the throughput corpus into ``folder``; return a one-line description of it."""
    if squad is not None and squad.is_file():
        articles = squad_articles(squad)[:max_articles]
        n_par = sum(len(p) for _, p in articles)
        write_articles(rotated(articles, copies), folder)
        what = f"SQuAD 2.0 dev ({squad.name}): {len(articles)} article(s), {n_par} paragraphs"
        return what + (f", x{copies} with paragraphs rotated" if copies > 1 else "")
    articles = seed_articles(seeds)
    n = 8 * copies if max_articles is None else 3
    write_articles(rotated(articles, n), folder)
    return f"{len(articles)} seed articles x{n} with paragraphs rotated (no SQuAD file at {squad})"
