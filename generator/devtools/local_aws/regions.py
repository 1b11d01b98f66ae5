"""Requests signed for a region AWS does not have: answered at once, as an AWS endpoint answers them.

moto builds a backend only for the regions it knows; for any other (``--region mars-1``) its server fails
with ``KeyError`` and an HTML "500 Internal Server Error" page, which botocore retries for seconds.  An AWS
endpoint refuses a request whose SigV4 credential scope names a region that is not valid with HTTP 403
and "Credential should be scoped to a valid region, not 'REGION'. " (``InvalidSignatureException`` in the
JSON protocols, ``SignatureDoesNotMatch`` in the query and XML ones), which no client retries.  That text
and status as AWS services return them are quoted in aws/aws-sdk-js-v3#5576 (HTTP 403,
InvalidSignatureException), aws/aws-sdk-go#156 (IAM) and aws/aws-sdk-ruby#508 (SQS); without a custom
endpoint a client cannot even connect (``EndpointConnectionError``: the host name does not exist).

Valid regions are those of botocore's endpoint data (every partition: aws, aws-cn, aws-us-gov, ...), the
same list the AWS CLI and boto3 use to build AWS host names.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any


@functools.lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    import botocore.loaders

    data = botocore.loaders.create_loader().load_data("endpoints")
    return frozenset(region for partition in data["partitions"] for region in partition.get("regions", {}))


def region_of(environ: dict[str, Any]) -> str | None:
    """The region of the request's SigV4 credential scope (``Credential=KEY/DATE/REGION/SERVICE/aws4_request``)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")[2]
    except IndexError:
        return None


def unknown_region_response(region: str | None, protocol: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """None for a known region (or an unsigned request), else the status, headers and body of the refusal."""
    if region is None or region in known_regions():
        return None
    message = f"Credential should be scoped to a valid region, not '{region}'. "
    request_id = str(uuid.uuid4())
    if protocol in ("json", "rest-json"):
        code = "InvalidSignatureException"
        body = json.dumps({"__type": code, "message": message}).encode()
        return 403, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                     ("x-amzn-RequestId", request_id)], body
    if protocol == "ec2":
        xml = (f"<Response><Errors><Error><Code>AuthFailure</Code><Message>{message}</Message></Error></Errors>"
               f"<RequestID>{request_id}</RequestID></Response>")
    elif protocol == "query":
        xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>{message}"
               f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    else:
        xml = f"<Error><Code>SignatureDoesNotMatch</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
    return 403, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], \
        ('<?xml version="1.0" encoding="UTF-8"?>\n' + xml).encode()
