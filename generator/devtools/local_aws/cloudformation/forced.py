"""Resource failures on request: make a named resource (or every resource of a type) fail in a stack operation.

A test or a developer tells the endpoint which resource to fail (``POST /_local_aws/resource-failures``)
and then watches what CloudFormation and Service Catalog do about it: the failed event, the rollback, a
FAILED record, a provisioned product that can be updated again.  Each failure rule matches on

* ``logical_id`` and/or ``type`` (at least one), optionally ``stack`` (a part of the stack name);
* ``action``: ``CREATE``, ``UPDATE`` or ``DELETE`` (default ``UPDATE``), or ``ANY``;
* ``times``: how many matching operations fail (default 1; 0 means every one until cleared);
* ``reason``: the failure's message (default: an injected "Resource handler returned message").

The rules live in the server process, are cleared by ``DELETE /_local_aws/resource-failures`` and by a
reset, and apply to every account and region.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from generator.errors import ConfigError

ACTIONS = ("CREATE", "UPDATE", "DELETE", "ANY")
DEFAULT_REASON = 'Resource handler returned message: "Failure injected by the local endpoint for {logical_id}"'


@dataclass
class FailureRule:
    logical_id: str | None = None
    type: str | None = None
    stack: str | None = None
    action: str = "UPDATE"
    times: int = 1
    reason: str | None = None
    used: int = 0

    def __post_init__(self) -> None:
        if not (self.logical_id or self.type):
            raise ConfigError("resource failure: give logical_id (e.g. \"Instance\") or type "
                              "(e.g. \"AWS::EC2::Instance\"), or both")
        for name in ("logical_id", "type", "stack", "reason"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"resource failure {name}: {value!r}; allowed: a string")
        self.action = str(self.action).upper()
        if self.action not in ACTIONS:
            raise ConfigError(f"resource failure action: {self.action!r}; allowed: {', '.join(ACTIONS)}")
        if not isinstance(self.times, int) or self.times < 0:
            raise ConfigError(f"resource failure times: {self.times!r}; allowed: an integer >= 0 (0: always)")

    @classmethod
    def from_dict(cls, data: Any) -> "FailureRule":
        if not isinstance(data, dict):
            raise ConfigError(f"resource failure: {data!r} is not an object such as "
                              "{\"logical_id\": \"Instance\", \"action\": \"UPDATE\"}")
        unknown = set(data) - {"logical_id", "type", "stack", "action", "times", "reason"}
        if unknown:
            raise ConfigError(f"resource failure: unknown key(s) {sorted(unknown)}; allowed: logical_id, type, "
                              "stack, action, times, reason")
        return cls(**data)

    def matches(self, stack: str, logical_id: str, kind: str, action: str) -> bool:
        return ((self.logical_id is None or self.logical_id == logical_id)
                and (self.type is None or self.type == kind)
                and (self.stack is None or self.stack in stack)
                and self.action in (action, "ANY")
                and (self.times == 0 or self.used < self.times))


_RULES: list[FailureRule] = []
_LOCK = threading.Lock()


def add(data: Any) -> list[dict[str, Any]]:
    """Add one rule (a dict) or several (a list); return every rule now in force."""
    rules = [FailureRule.from_dict(d) for d in (data if isinstance(data, list) else [data])]
    with _LOCK:
        _RULES.extend(rules)
    return rules_in_force()


def rules_in_force() -> list[dict[str, Any]]:
    with _LOCK:
        return [asdict(r) for r in _RULES]


def clear() -> None:
    with _LOCK:
        _RULES.clear()


def failure(stack: str, logical_id: str, kind: str, action: str) -> str | None:
    """The reason this resource operation must fail, or None; counts the use."""
    with _LOCK:
        for rule in _RULES:
            if rule.matches(stack, logical_id, kind, action):
                rule.used += 1
                return rule.reason or DEFAULT_REASON.replace("{logical_id}", logical_id)
    return None
