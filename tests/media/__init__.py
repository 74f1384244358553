"""Media service tests."""
