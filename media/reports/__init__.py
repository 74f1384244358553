"""Reports: a tenant's POCs as PDF or CSV, rendered by the media workers."""
