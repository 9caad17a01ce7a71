"""``qa bench``: the command (:mod:`qa.bench.command`), statistics, bench corpora, and one module per measured area.

- :mod:`qa.bench.stats`: medians, percentiles, ratios and timers (pure, no heavy imports);
- :mod:`qa.bench.corpus`: the SQuAD-paragraph corpus used for indexing throughput;
- :mod:`qa.bench.pipeline`: indexing throughput against plain ``SentenceTransformer.encode``,
  warm ``ask`` latency and no-op re-index, all in this process;
- :mod:`qa.bench.startup`: fresh-process timings and peak memory (``qa ask``, ``qa index``,
  the import floor, the chat app's first frame);
- :mod:`qa.bench.scale`: the vector index at 100,000 and 1,000,000 synthetic vectors.
"""
