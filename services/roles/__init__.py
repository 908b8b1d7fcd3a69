"""The roles service: arrives with its own issue (see README)."""
