"""Service Catalog errors, as the real API names them (JSON 1.1 ``__type`` + ``message``)."""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError
from moto.servicecatalog.exceptions import InvalidParametersException, ResourceNotFoundException

__all__ = [
    "DuplicateResourceException",
    "InvalidParametersException",
    "LimitExceededException",
    "ResourceInUseException",
    "ResourceNotFoundException",
]


class DuplicateResourceException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("DuplicateResourceException", message)


class LimitExceededException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("LimitExceededException", message)


class ResourceInUseException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("ResourceInUseException", message)
