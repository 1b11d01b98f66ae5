"""Route 53 for the local endpoint: moto's, with hosted-zone names compared as DNS compares them.

moto's ``get_hosted_zone_by_name`` (used by ``AWS::Route53::RecordSet`` with ``HostedZoneName``) compares
the strings exactly: a zone created through the API is stored as ``example.org.`` and a template naming
``HostedZoneName: example.org.`` finds it, but one created by a template keeps the name as given, so
the same lookup fails with a KeyError.  AWS: "The trailing dot is optional; Amazon
Route 53 assumes that the domain name is fully qualified. This means that Route 53 treats
www.example.com (without a trailing dot) and www.example.com. (with a trailing dot) as identical."
(*CreateHostedZone*, Name, https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHostedZone.html);
DNS names are compared case-insensitively.
Everything else (hosted zones, ChangeResourceRecordSets, alias records to a load balancer,
``AWS::Route53::HostedZone`` / ``RecordSet`` / ``RecordSetGroup`` in CloudFormation) is moto's own.
"""

from __future__ import annotations

from typing import Any


def _normal(name: str) -> str:
    return name.rstrip(".").lower()


def get_hosted_zone_by_name(self: Any, name: str) -> Any:
    for zone in self.zones.values():
        if _normal(zone.name) == _normal(name):
            return zone
    return None


def register() -> None:
    from moto.route53.models import Route53Backend

    Route53Backend.get_hosted_zone_by_name = get_hosted_zone_by_name  # type: ignore[method-assign]
