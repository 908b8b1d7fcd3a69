"""The media service: arrives with its own issue (see README)."""
