"""Object storage for the media service: local files (the embedded default) or S3."""
