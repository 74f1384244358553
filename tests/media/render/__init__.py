"""The report renderers (PDF, CSV) and their locale texts."""
