"""The roles service: users, teams, role invites and permission checks."""
