"""The gateway service: arrives with its own issue (see README)."""
