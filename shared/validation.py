"""Input validation every service shares: strict pydantic schemas, and
their errors as one readable line that names each field."""
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator
from pydantic_core import PydanticCustomError

from shared.ids import MAX_ID


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


class Page(Schema):
    """A list's window: `limit` 1–200 (default 50), `offset` from 0."""

    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=MAX_ID)


class Answer(BaseModel):
    """An answer's model (for documents and clients): it may carry more
    fields than it lists."""

    model_config = ConfigDict(extra="allow")


def answer_of(schema, title, read_only):
    """An answer model: every field of the input `schema` (none required),
    plus the `read_only` ones (name → type), which are."""
    fields = {name: (info.annotation | None, None) for name, info in schema.model_fields.items()}
    fields.update({name: (annotation, ...) for name, annotation in read_only.items()})
    return create_model(title, __base__=Answer, **fields)


def page_of(item):
    """A list answer: `{items, total, limit, offset}`."""
    return create_model(f"{item.__name__}Page", __base__=Answer, items=(list[item], ...),
                        total=(int, ...), limit=(int, ...), offset=(int, ...))


def page(limit, offset, error):
    """The window asked for (None = the default), else `error`."""
    sent = {name: value for name, value in (("limit", limit), ("offset", offset))
            if value is not None}
    return Page(**validate(Page, sent, error, "page"))


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
