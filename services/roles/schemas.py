"""Validation of what callers send (contracts.roles.schemas), raising this
service's error."""
from contracts.roles.errors import InvalidRoleData
from shared.validation import validate as shared_validate


def validate(schema, data, what, sent_only=False):
    return shared_validate(schema, data, InvalidRoleData, what, sent_only)
