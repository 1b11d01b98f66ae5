"""Provisioning-artifact templates: fetch from the in-process S3, parse, validate, describe.

``LoadTemplateFromURL`` may name the object in any form a client would use:

* path style on the local endpoint or on S3: ``http://127.0.0.1:4566/bucket/key``,
  ``https://s3.amazonaws.com/bucket/key``, ``https://s3.us-east-1.amazonaws.com/bucket/key``;
* virtual-host style: ``https://bucket.s3.amazonaws.com/key``, ``https://bucket.s3.eu-west-1.amazonaws.com/key``,
  ``https://bucket.s3-eu-west-1.amazonaws.com/key``.

Every form resolves to moto's S3 backend in this process (the same state the S3 API serves), with
``?versionId=`` honoured.  A missing bucket or object, or a body that is not a CloudFormation template,
is an ``InvalidParametersException`` as in AWS.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from ..cloudformation.parameters import as_text
from .exceptions import InvalidParametersException

_VHOST = re.compile(r"^(?P<bucket>.+?)\.s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$")
_PATH_HOST = re.compile(r"^s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$")

PARAMETER_TYPES = {
    "String", "Number", "List<Number>", "CommaDelimitedList",
}
_AWS_PARAMETER_TYPE = re.compile(r"^(AWS::[A-Za-z0-9:]+|List<AWS::[A-Za-z0-9:]+>|AWS::SSM::Parameter::Value<.+>)$")
_CONSTRAINT_KEYS = ("AllowedValues", "AllowedPattern", "ConstraintDescription",
                    "MaxLength", "MinLength", "MaxValue", "MinValue")


def split_s3_url(url: str) -> tuple[str, str, str | None]:
    """Return ``(bucket, key, version_id)`` for an S3 object URL in any supported form."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParametersException(
            f"LoadTemplateFromURL '{url}' is not an http(s) URL of an S3 object; use "
            "https://BUCKET.s3.amazonaws.com/KEY or the endpoint's path style http://HOST:PORT/BUCKET/KEY")
    host = (parts.hostname or "").lower()
    path = unquote(parts.path)
    match = _VHOST.match(host)
    if match and not _PATH_HOST.match(host):
        bucket, key = match.group("bucket"), path.lstrip("/")
    else:
        bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or not key:
        raise InvalidParametersException(
            f"LoadTemplateFromURL '{url}' does not name an S3 object (bucket and key are both needed)")
    version = parse_qs(parts.query).get("versionId", [None])[0]
    return bucket, key, version


def fetch(url: str, account_id: str, partition: str = "aws") -> str:
    """The template body stored at ``url`` in the local S3, as text."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends

    bucket, key, version = split_s3_url(url)
    backend = s3_backends[account_id][partition]
    try:
        obj = backend.get_object(bucket, key, version_id=version)
    except MissingBucket:
        obj = None
    if obj is None:
        raise InvalidParametersException(
            f"Unable to retrieve the template from URL {url}: no object s3://{bucket}/{key}"
            + (f" (version {version})" if version else "") + " in the local S3")
    try:
        return obj.value.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidParametersException(f"Template at {url} is not UTF-8 text: {err}") from err


class _CfnYamlLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation short-form tags (``!Ref``, ``!Sub`` ...)."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnYamlLoader.add_multi_constructor("!", _short_form)


def parse(body: str) -> dict[str, Any]:
    """Parse a JSON or YAML CloudFormation template and check its structure like ValidateTemplate."""
    try:
        doc = json.loads(body)
    except ValueError:
        try:
            doc = yaml.load(body, Loader=_CfnYamlLoader)  # noqa: S506 - SafeLoader subclass
        except yaml.YAMLError as err:
            raise _invalid(f"not JSON or YAML: {err}".splitlines()[0]) from err
    if not isinstance(doc, dict):
        raise _invalid("the template must be a JSON or YAML object")
    resources = doc.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise _invalid("At least one Resources member must be defined.")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise _invalid(f"[/Resources/{logical_id}] Every Resources object must contain a Type member.")
    parameters = doc.get("Parameters", {})
    if not isinstance(parameters, dict):
        raise _invalid("Parameters must be an object")
    for key, spec in parameters.items():
        ptype = spec.get("Type") if isinstance(spec, dict) else None
        if not isinstance(ptype, str) or not (ptype in PARAMETER_TYPES or _AWS_PARAMETER_TYPE.match(ptype)):
            raise _invalid(f"Invalid template parameter property or type for parameter '{key}': {ptype!r}")
    if not isinstance(doc.get("Outputs", {}), dict):
        raise _invalid("Outputs must be an object")
    return doc


def _invalid(detail: str) -> InvalidParametersException:
    return InvalidParametersException(
        f"Invalid templateBody. Please make sure that your template is valid. Template format error: {detail}")


def parameters(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """``ProvisioningArtifactParameters`` for DescribeProvisioningParameters / DescribeProvisioningArtifact."""
    result = []
    for key, spec in doc.get("Parameters", {}).items():
        item: dict[str, Any] = {
            "ParameterKey": key,
            "ParameterType": spec["Type"],
            "IsNoEcho": str(spec.get("NoEcho", "false")).lower() == "true",
            "Description": spec.get("Description", ""),
        }
        if "Default" in spec:
            item["DefaultValue"] = as_text(spec["Default"])
        constraints: dict[str, Any] = {}
        for name in _CONSTRAINT_KEYS:
            if name in spec:
                value = spec[name]
                constraints[name] = [as_text(v) for v in value] if name == "AllowedValues" else as_text(value)
        item["ParameterConstraints"] = constraints
        result.append(item)
    return result


def output_keys(doc: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": key, "Description": (spec or {}).get("Description", "")}
            for key, spec in doc.get("Outputs", {}).items()]
