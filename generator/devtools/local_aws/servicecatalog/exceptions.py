"""Service Catalog errors, as the real API names them (JSON 1.1 ``__type`` + ``message``)."""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError
from moto.servicecatalog.exceptions import InvalidParametersException, ResourceNotFoundException

__all__ = [
    "DuplicateResourceException",
    "InvalidParametersException",
    "InvalidStateException",
    "LimitExceededException",
    "OperationNotSupportedException",
    "ResourceInUseException",
    "ResourceNotFoundException",
]


def _error(name: str) -> type[JsonRESTError]:
    """An error class answering HTTP 400 with ``__type`` ``name``."""

    def __init__(self: JsonRESTError, message: str) -> None:
        JsonRESTError.__init__(self, name, message)

    return type(name, (JsonRESTError,), {"code": 400, "__init__": __init__})


DuplicateResourceException = _error("DuplicateResourceException")
LimitExceededException = _error("LimitExceededException")
ResourceInUseException = _error("ResourceInUseException")
InvalidStateException = _error("InvalidStateException")
OperationNotSupportedException = _error("OperationNotSupportedException")

