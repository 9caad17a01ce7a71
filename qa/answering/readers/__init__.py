"""Span readers: given a question and passages, return spans with file offsets and scores."""
