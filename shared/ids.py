"""Row ids as every service accepts them at its entrypoints."""
MAX_ID = 2**63 - 1  # PostgreSQL bigint


def as_id(value):
    """`value` as a row id (an int, or a string of ASCII digits, within the
    bigint range), else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None
