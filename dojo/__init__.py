"""dojo package."""
