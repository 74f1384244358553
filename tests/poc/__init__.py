"""POC catalogue service tests."""
