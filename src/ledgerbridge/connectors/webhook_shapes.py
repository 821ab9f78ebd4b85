"""The shapes webhook bodies must have, checked before any field is read.

A body that verified its signature can still be odd: a JSON string or number, a list of numbers,
an array nested 100,000 deep, an entity id such as `../../etc/passwd`. Each is refused here as
`MalformedWebhook` (a ValueError: the route answers 400 with the message), so nothing odd
reaches the engine or a connector's URL.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

T = TypeVar("T")


class MalformedWebhook(ValueError):
    """A signed webhook body that is not what the sender documents."""


def _as_text(value: Any) -> Any:
    # Ids arrive as JSON numbers (HubSpot) or strings (QBO); bools are not ids.
    if isinstance(value, bool):
        return value
    return str(value) if isinstance(value, int) else value


Digits = Annotated[
    str, BeforeValidator(_as_text), StringConstraints(pattern=r"^[0-9]{1,32}$", strict=True)
]
Name = Annotated[str, StringConstraints(max_length=200)]


class Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def load(body: bytes | str) -> Any:
    raw = body.encode() if isinstance(body, str) else body
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedWebhook(f"webhook body is not JSON: {exc}") from None
    except RecursionError:
        raise MalformedWebhook("webhook body is nested too deeply") from None


def validate(adapter: TypeAdapter[T], payload: Any, what: str) -> T:
    try:
        return adapter.validate_python(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise MalformedWebhook(f"{what} webhook body: {where}: {first['msg']}") from None
    except RecursionError:
        raise MalformedWebhook(f"{what} webhook body is nested too deeply") from None
