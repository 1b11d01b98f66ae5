"""Compliance: parameter scenarios, the HIPAA rule base and rules (cfn-lint rules, ``rules/``), the
in-process lint pass, the compliance report and the independent scanners."""
