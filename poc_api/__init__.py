"""poc_api package."""
