"""Cars: canonical vehicles, field mapping from sources, status, per-car sync state."""
