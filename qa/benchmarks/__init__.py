"""The pieces of ``qa bench``: statistics, bench corpora, and one module per measured area.

- :mod:`qa.benchmarks.stats`: medians, percentiles, ratios and timers (pure, no heavy imports);
- :mod:`qa.benchmarks.corpus`: the SQuAD-paragraph corpus used for indexing throughput;
- :mod:`qa.benchmarks.pipeline`: indexing throughput against plain ``SentenceTransformer.encode``,
  warm ``ask`` latency and no-op re-index, all in this process;
- :mod:`qa.benchmarks.startup`: fresh-process timings and peak memory (``qa ask``, ``qa index``,
  the import floor, the chat app's first frame);
- :mod:`qa.benchmarks.scale`: the vector index at 100,000 and 1,000,000 synthetic vectors.
"""
