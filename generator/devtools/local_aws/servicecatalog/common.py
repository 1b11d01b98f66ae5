"""Helpers shared by the Service Catalog models: AWS-style ids and page tokens."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from .exceptions import InvalidParametersException

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"



def new_id(prefix: str) -> str:
    return f"{prefix}-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(13))


def paginate(items: list[Any], page_token: str | None, page_size: int | None, maximum: int = 20
             ) -> tuple[list[Any], str | None]:
    """A page of ``items`` and the opaque token of the next page (None on the last page)."""
    if page_size is not None and not 0 <= int(page_size) <= maximum:
        raise InvalidParametersException(f"PageSize {page_size} is out of range; allowed: 0..{maximum}")
    size = int(page_size) if page_size else 20
    start = 0
    if page_token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(page_token.encode()))["offset"])
        except (ValueError, KeyError, TypeError):
            raise InvalidParametersException(f"The page token '{page_token}' is not valid") from None
    end = start + size
    token = base64.urlsafe_b64encode(json.dumps({"offset": end}).encode()).decode() if end < len(items) else None
    return items[start:end], token
