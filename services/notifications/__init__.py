"""The notifications service: mails people what the roles service announces."""
