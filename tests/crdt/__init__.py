"""Tests of the document engine (``crdt``)."""
