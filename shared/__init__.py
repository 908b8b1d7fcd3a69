"""The project's own library: config, unit of work, outbox, inbox, message
contracts, handler failure policy and errors, used by every service."""
