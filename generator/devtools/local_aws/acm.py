"""ACM for the local endpoint: moto's, except that a requested certificate is issued the way DNS validation
issues it, once its validation records exist, instead of after a fixed wait.

"When you choose DNS validation, ACM provides you with one or more CNAME records that must be added to
this database. These records contain a unique key-value pair that serves as proof that you control the
domain" (*DNS validation*, AWS Certificate Manager User Guide,
https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html).  moto turns every requested
certificate ISSUED 60 seconds after the request, records or not; here a certificate stays
``PENDING_VALIDATION`` until every CNAME its ``DomainValidationOptions`` name (moto's ``ResourceRecord``)
is in a hosted zone of the account's local Route 53, then it is ``ISSUED``.  Expiry is moto's.

moto makes a new 2048-bit RSA key for each requested certificate and parses it back (81 ms of CPU a
certificate, measured here); here every requested certificate of the process carries one key, made on first
use (1 ms a certificate), and is moto's otherwise (subject, issuer, serial, validity, subject alternative
names).  A client could tell: GetCertificate returns each certificate, whose public key is then the same,
and ExportCertificate returns "the certificate, the certificate chain, and the encrypted private key"
(*ExportCertificate*, AWS Certificate Manager API Reference,
https://docs.aws.amazon.com/acm/latest/APIReference/API_ExportCertificate.html); nothing of this project
calls either.
"""

from __future__ import annotations

import threading
from typing import Any

_KEY_LOCK = threading.Lock()
_KEY: dict[str, Any] = {}   # "key": the RSA key of this process's requested certificates, "pem": its PEM


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


def signing_key() -> tuple[Any, bytes]:
    """The process's one RSA key for the certificates it issues, made on first use, and its PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    with _KEY_LOCK:
        if not _KEY:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _KEY.update(key=key, pem=key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                                       serialization.NoEncryption()))
        return _KEY["key"], _KEY["pem"]


def _generate_cert(cls, domain_name: str, account_id: str, region: str, sans: list[str] | None = None,
                   cert_authority_arn: str | None = None):
    """moto's ``CertBundle.generate_cert``, signed with the process's one key."""
    import datetime
    import ipaddress

    import cryptography.x509 as x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import DNSName, IPAddress, NameOID
    from moto.acm.models import IPV4_REGEX
    from moto.core.utils import utcnow

    key, pem = signing_key()
    names = [IPAddress(ipaddress.IPv4Address(n)) if IPV4_REGEX.match(n) else DNSName(n)
             for n in (set(sans or ()) | {domain_name})]
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                         x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
                         x509.NameAttribute(NameOID.LOCALITY_NAME, "San Francisco"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "My Company"),
                         x509.NameAttribute(NameOID.COMMON_NAME, domain_name)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Amazon"),
                        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Server CA 1B"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "Amazon")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(utcnow())
            .not_valid_after(utcnow() + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(key, hashes.SHA512()))
    private = cert_authority_arn is not None
    return cls(certificate=cert.public_bytes(serialization.Encoding.PEM), private_key=pem,
               cert_type="PRIVATE" if private else "AMAZON_ISSUED",
               cert_status="ISSUED" if private else "PENDING_VALIDATION",
               cert_authority_arn=cert_authority_arn, account_id=account_id, region=region)


def register() -> None:
    from moto.acm.models import CertBundle

    moto_check = CertBundle.check
    if getattr(moto_check, "validates_by_dns", False):
        return
    moto_validate_pk = CertBundle.validate_pk

    def validate_pk(self: Any) -> Any:
        # the process's one key is parsed once (moto parses the PEM of every certificate it makes)
        if _KEY and self.key == _KEY["pem"]:
            return _KEY["key"]
        return moto_validate_pk(self)

    CertBundle.generate_cert = classmethod(_generate_cert)  # type: ignore[method-assign,assignment]
    CertBundle.validate_pk = validate_pk  # type: ignore[method-assign]

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
