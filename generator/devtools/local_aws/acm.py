"""ACM for the local endpoint: moto's, except that a requested certificate is issued the way DNS validation
issues it, once its validation records exist, instead of after a fixed wait.

"When you choose DNS validation, ACM provides you with one or more CNAME records that must be added to
this database. These records contain a unique key-value pair that serves as proof that you control the
domain" (*DNS validation*, AWS Certificate Manager User Guide,
https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html).  moto turns every requested
certificate ISSUED 60 seconds after the request, records or not; here a certificate stays
``PENDING_VALIDATION`` until every CNAME its ``DomainValidationOptions`` name (moto's ``ResourceRecord``)
is in a hosted zone of the account's local Route 53, then it is ``ISSUED``.  Expiry is moto's.
"""

from __future__ import annotations

from typing import Any


def _records(account_id: str, partition: str) -> set[tuple[str, str]]:
    """(name, value) of every CNAME in the account's hosted zones, names and values lower-case with the dot."""
    from moto.route53.models import route53_backends

    out = set()
    for zone in route53_backends[account_id][partition].zones.values():
        for rrset in zone.rrsets:
            if rrset.type == "CNAME":
                for value in rrset.records or []:
                    out.add((rrset.name.lower().rstrip(".") + ".", str(value).lower().rstrip(".") + "."))
    return out


def register() -> None:
    from moto.acm.models import CertBundle

    moto_check = CertBundle.check
    if getattr(moto_check, "validates_by_dns", False):
        return

    def check(self: Any) -> None:
        pending = self.type == "AMAZON_ISSUED" and self.status == "PENDING_VALIDATION"
        if not pending:
            moto_check(self)
            return
        options = self.describe()["Certificate"].get("DomainValidationOptions") or []
        wanted = {(o["ResourceRecord"]["Name"].lower(), o["ResourceRecord"]["Value"].lower()) for o in options}
        _arn, partition, _acm, _region, account_id, _rest = self.arn.split(":", 5)
        if wanted and wanted <= _records(account_id, partition):
            self.status = "ISSUED"

    check.validates_by_dns = True  # type: ignore[attr-defined]
    CertBundle.check = check  # type: ignore[method-assign]
