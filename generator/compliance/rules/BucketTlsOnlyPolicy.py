"""E9201: every S3 bucket has a policy denying requests that do not use TLS."""

import re

from generator.compliance import hipaa


def _arn_kind(expr, bucket):
    """'bucket', 'objects' or '' for a policy Resource entry, relative to the bucket's logical id."""
    t = hipaa.text(expr)
    for base in (f"${{{bucket}.Arn}}", f"arn:${{AWS::Partition}}:s3:::${{{bucket}}}", f"arn:aws:s3:::${{{bucket}}}"):
        if t == base:
            return "bucket"
        if t == base + "/*":
            return "objects"
    return ""


def _denies_plain_http(st):
    if not isinstance(st, dict) or st.get("Effect") != "Deny":
        return False
    pr = st.get("Principal")
    if not (pr == "*" or (isinstance(pr, dict) and "*" in hipaa.as_list(pr.get("AWS")))):
        return False
    actions = [str(a) for a in hipaa.as_list(st.get("Action"))]
    if not any(a in ("s3:*", "*") for a in actions):
        return False
    cond = st.get("Condition")
    if not isinstance(cond, dict):
        return False
    for op in ("Bool", "BoolIfExists"):
        v = cond.get(op, {}).get("aws:SecureTransport") if isinstance(cond.get(op), dict) else None
        if v is False or (isinstance(v, str) and re.fullmatch(r"false", v, re.I)):
            return True
    return False


def _tls_statements(s, bucket):
    """(policy logical id, statement) of every statement denying plain HTTP in a policy of ``bucket``."""
    for pid, pol in s.of_type("AWS::S3::BucketPolicy"):
        p = hipaa.props(pol)
        if bucket not in hipaa.referenced(p.get("Bucket")):
            continue
        doc = p.get("PolicyDocument")
        for st in hipaa.as_list(doc.get("Statement") if isinstance(doc, dict) else None):
            if _denies_plain_http(st):
                yield pid, st


class BucketTlsOnlyPolicy(hipaa.HipaaRule):
    id = "E9201"
    shortdesc = "S3 buckets deny requests without TLS"
    description = ("Every AWS::S3::Bucket has an AWS::S3::BucketPolicy with a statement Deny, Principal *, "
                   "Action s3:*, Condition Bool aws:SecureTransport false, on the bucket ARN and bucket ARN/*.")
    hipaa = ("164.312(e)(1)", "164.312(c)(2)")
    fix = "add a BucketPolicy denying s3:* to * when aws:SecureTransport is false, on [bucket ARN, bucket ARN/*]"
    resource_types = ("AWS::S3::Bucket",)

    def shown(self, s, lid, res):
        return [(f"{pid} statement", st) for pid, st in _tls_statements(s, lid)] or [("bucket policy", None)]

    def check(self, s, lid, res):
        covered = set()
        for _, st in _tls_statements(s, lid):
            covered |= {_arn_kind(r, lid) for r in hipaa.as_list(st.get("Resource"))}
        missing = {"bucket", "objects"} - covered
        if missing:
            what = " and ".join(sorted({"bucket": "the bucket ARN", "objects": "bucket ARN/*"}[m] for m in missing))
            yield hipaa.Fail((), f"bucket {lid}: no bucket policy denies non-TLS requests on {what}")
