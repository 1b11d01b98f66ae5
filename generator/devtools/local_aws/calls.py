"""Name the AWS service and operation of an HTTP request, for the call log and fault selection.

* service: the signing name in the SigV4 ``Authorization`` credential scope (``servicecatalog``, ``s3``,
  ``cloudformation``, ``iam`` ...);
* operation: ``X-Amz-Target`` (JSON protocols), ``Action=`` (query protocols: IAM, STS, CloudFormation,
  EC2, SNS), or for S3 the REST method and path mapped to the S3 operation name.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs

_BUCKET_SUBRESOURCES = {
    "versioning": "BucketVersioning", "policy": "BucketPolicy", "encryption": "BucketEncryption",
    "publicAccessBlock": "PublicAccessBlock", "tagging": "BucketTagging",
    "lifecycle": "BucketLifecycleConfiguration", "logging": "BucketLogging", "acl": "BucketAcl",
    "cors": "BucketCors", "notification": "BucketNotificationConfiguration",
    "ownershipControls": "BucketOwnershipControls", "object-lock": "ObjectLockConfiguration",
    "replication": "BucketReplication", "website": "BucketWebsite", "policyStatus": "BucketPolicyStatus",
}
_METHOD_VERB = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}


_ACCOUNTS: dict[str, str] = {}  # access key id -> account (a key never moves to another account)


def account_of(environ: dict[str, Any]) -> str:
    """The account the request acts in: the one moto maps the signing access key to (an ``sts:AssumeRole``
    session's or an IAM user's account; the default account for any other key)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    key = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else ""
    if key not in _ACCOUNTS:
        from moto.iam.models import get_account_id_from

        account = get_account_id_from(key)
        if not key.startswith(("ASIA", "AKIA")):
            return account  # a key moto did not issue: its account may change if one is issued later
        _ACCOUNTS[key] = account
    return _ACCOUNTS[key]


def service_of(environ: dict[str, Any]) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
        return scope.split("/")[3].lower()
    except IndexError:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        return target.split(".", 1)[0].lower() if target else "s3"


def read_form(environ: dict[str, Any]) -> dict[str, list[str]]:
    """The form-encoded parameters of a query-protocol request; the body is put back for moto."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return query
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return query
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return {**query, **parse_qs(body.decode("utf-8", "replace"))}


def s3_operation(method: str, path: str, query: dict[str, list[str]], headers: dict[str, Any]) -> str:
    parts = [p for p in path.split("/", 2)[1:] if p] if path.startswith("/") else []
    if not parts:
        return "ListBuckets"
    if len(parts) == 1:
        for sub, name in _BUCKET_SUBRESOURCES.items():
            if sub in query:
                return f"{_METHOD_VERB.get(method, method.title())}{name}"
        if method == "GET":
            if "location" in query:
                return "GetBucketLocation"
            if "versions" in query:
                return "ListObjectVersions"
            if "uploads" in query:
                return "ListMultipartUploads"
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        return {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket",
                "POST": "DeleteObjects" if "delete" in query else "PostObject"}.get(method, method)
    if "tagging" in query:
        return f"{_METHOD_VERB.get(method, method.title())}ObjectTagging"
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPart"
        return "CopyObject" if headers.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject"
    if method == "POST":
        return "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    if method == "DELETE" and "uploadId" in query:
        return "AbortMultipartUpload"
    return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)


def classify(environ: dict[str, Any]) -> tuple[str, str, str]:
    """``(service, operation, protocol)`` of a request; protocol is json, query, ec2 or rest-xml."""
    service = service_of(environ)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1], "json"
    if service == "s3":
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        return service, s3_operation(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/"),
                                     query, environ), "rest-xml"
    action = read_form(environ).get("Action", [""])[0]
    if action:
        return service, action, "ec2" if service == "ec2" else "query"
    method = environ.get("REQUEST_METHOD", "GET")
    return service, f"{method} {environ.get('PATH_INFO', '/')}", "rest-json"
