"""qa: extractive, cited question answering over a folder of articles."""

__version__ = "0.1.0"
