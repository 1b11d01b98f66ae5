"""Fault injection: a seeded fraction of calls throttled or unavailable, plus a fixed latency.

Off by default.  Each call to a selected service draws one number from a ``random.Random(seed)``:
below ``throttle`` it is answered with a throttling error (HTTP 400, except S3: 503 ``SlowDown``, as
S3 throttles: "503 Slow Down", Amazon S3 User Guide, *Amazon S3 error best practices* and the AWS
knowledge-center article *http-5xx-errors-s3*), below ``throttle + unavailable`` with HTTP 503;
otherwise it goes through.  ``latency_ms`` is slept before every selected call.  A call is selected when
its service is in ``services`` and its operation in ``operations`` (None: every one).  The
error body has the shape the service's protocol uses, so botocore parses and retries it like a real one.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from generator.errors import ConfigError


@dataclass
class FaultConfig:
    throttle: float = 0.0
    unavailable: float = 0.0
    latency_ms: int = 0
    seed: int = 0
    services: list[str] | None = None  # None: every service
    operations: list[str] | None = None  # None: every operation of those services

    def __post_init__(self) -> None:
        for name in ("throttle", "unavailable"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"fault {name}: {value!r} is not a fraction; allowed: 0.0 to 1.0")
        if self.throttle + self.unavailable > 1.0:
            raise ConfigError(f"faults: throttle + unavailable = {self.throttle + self.unavailable}; allowed: at most 1.0")
        if not isinstance(self.latency_ms, int) or self.latency_ms < 0:
            raise ConfigError(f"fault latency_ms: {self.latency_ms!r}; allowed: an integer >= 0")
        if not isinstance(self.seed, int):
            raise ConfigError(f"fault seed: {self.seed!r}; allowed: an integer")
        for name, example in (("services", '["servicecatalog", "s3"]'), ("operations", '["ProvisionProduct"]')):
            names = getattr(self, name)
            if names is not None and (isinstance(names, str) or not all(isinstance(n, str) for n in names)):
                raise ConfigError(f"fault {name}: {names!r}; allowed: a list of names such as {example}, "
                                  "or null for all")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FaultConfig":
        unknown = set(data) - {"throttle", "unavailable", "latency_ms", "seed", "services", "operations"}
        if unknown:
            raise ConfigError(f"faults: unknown key(s) {sorted(unknown)}; allowed: throttle, unavailable, "
                              "latency_ms, seed, services, operations")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultInjector:
    config: FaultConfig = field(default_factory=FaultConfig)
    injected: dict[str, int] = field(default_factory=lambda: {"throttle": 0, "unavailable": 0})

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.config.seed)

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._random = random.Random(config.seed)
            self.injected = {"throttle": 0, "unavailable": 0}

    def applies(self, service: str, operation: str) -> bool:
        cfg = self.config
        return ((cfg.services is None or service in cfg.services)
                and (cfg.operations is None or operation in cfg.operations))

    def draw(self, service: str, operation: str) -> str | None:
        """``"throttle"``, ``"unavailable"`` or None for one call to ``service``'s ``operation``."""
        cfg = self.config
        if not self.applies(service, operation) or not (cfg.throttle or cfg.unavailable):
            return None
        with self._lock:
            roll = self._random.random()
            fault = ("throttle" if roll < cfg.throttle else
                     "unavailable" if roll < cfg.throttle + cfg.unavailable else None)
            if fault:
                self.injected[fault] += 1
        return fault


def error_response(fault: str, protocol: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of an injected error for a request in ``protocol``.

    ``protocol`` is ``json`` (X-Amz-Target services), ``query`` (IAM, STS, CloudFormation, SNS ...),
    ``ec2`` or ``rest-xml`` (S3).
    """
    request_id = str(uuid.uuid4())
    status = 400 if fault == "throttle" and protocol != "rest-xml" else 503
    if protocol == "json":
        code = "ThrottlingException" if fault == "throttle" else "ServiceUnavailableException"
        message = "Rate exceeded" if fault == "throttle" else "Service is unavailable (injected by local-aws)"
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                        ("x-amzn-RequestId", request_id)], body
    message = "Rate exceeded" if fault == "throttle" else "Service is unavailable (injected by local-aws)"
    if protocol == "query":
        code = "Throttling" if fault == "throttle" else "ServiceUnavailable"
        kind = "Sender" if fault == "throttle" else "Receiver"
        xml = (f'<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>'
               f'</Error><RequestId>{request_id}</RequestId></ErrorResponse>')
    elif protocol == "ec2":
        code = "RequestLimitExceeded" if fault == "throttle" else "Unavailable"
        xml = (f'<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>'
               f'<RequestID>{request_id}</RequestID></Response>')
    else:
        code = "SlowDown" if fault == "throttle" else "ServiceUnavailable"
        xml = f'<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>'
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + xml).encode()
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id),
                    ("x-amz-request-id", request_id)], body
