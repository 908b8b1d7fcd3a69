"""What only the gateway's routes answer, as pydantic models; what the
services take and answer is in their contracts (contracts.*.schemas)."""
from typing import Literal

from pydantic import BaseModel

from shared.validation import Answer


class Token(Answer):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


class Health(Answer):
    status: Literal["ok", "unavailable"]
    services: dict


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
