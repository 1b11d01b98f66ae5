"""Compliant building blocks: small functions returning troposphere objects that already meet the
HIPAA controls (an encrypted bucket comes with versioning, public-access block and a TLS-only policy),
and the catalog constants the products share."""
