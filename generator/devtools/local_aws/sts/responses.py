"""STS responses: moto's, with AssumeRole refused unless the role's trust policy allows the caller."""

from __future__ import annotations

from moto.core.exceptions import AccessDeniedError
from moto.sts.responses import TokenResponse as MotoTokenResponse

from .models import ACTION, STSBackend


class TokenResponse(MotoTokenResponse):
    @property
    def backend(self) -> STSBackend:  # type: ignore[override]
        return super().backend  # type: ignore[return-value]

    def assume_role(self):  # type: ignore[no-untyped-def]
        role_arn = self._get_param("RoleArn") or ""
        principals = self.backend.principals(self.get_access_key(), self.region)
        context = {"aws:RequestedRegion": self.region}
        for param, key in (("ExternalId", "sts:ExternalId"), ("RoleSessionName", "sts:RoleSessionName")):
            if self._get_param(param) is not None:
                context[key] = self._get_param(param)
        decision = self.backend.trust_decision(role_arn, principals, context)
        if not decision.allowed:
            why = ("with an explicit deny in a resource-based policy" if decision.explicit_deny
                   else f"because no resource-based policy allows the {ACTION} action")
            raise AccessDeniedError(principals[-1], f"{ACTION} on resource: {role_arn} {why}")
        return super().assume_role()
