"""Input validation every service shares: strict pydantic schemas, and
their errors as one readable line that names each field."""
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_core import PydanticCustomError


class Schema(BaseModel):
    """Refuses unknown fields, and strings PostgreSQL cannot store."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_nul(cls, value):
        # PostgreSQL text cannot hold NUL characters
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError("nul", "must not contain NUL characters")
        return value


def validate(schema, data, error, what, sent_only=False):
    """`data` checked against `schema` as a dict of every field (defaults
    filled in), or with `sent_only` of the fields sent; else `error` (an
    InvalidInput class) naming the fields. `what` names the data."""
    try:
        return schema.model_validate(data).model_dump(exclude_unset=sent_only)
    except ValidationError as exc:
        raise error(f"invalid {what}: {describe(exc)}") from None


def describe(error):
    """A validation error as one readable line naming each field."""
    return "; ".join(_problem(item) for item in error.errors())


def _problem(item):
    where = ".".join(str(part) for part in item["loc"])
    message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
    return f"{where}: {message}" if where else message
