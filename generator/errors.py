"""The project's one exception hierarchy: every exception class hipaa-catalog defines is here.

Every error a user can cause is a ``CatalogError``; its message names the file, product, logical id
or field, what was found and what is allowed.  ``generator.cli.main`` is the one place that turns these
into a one-line message and an exit code.

The local AWS endpoint answers with AWS's own error responses (moto's ``JsonRESTError`` and
``ServiceException`` subclasses in ``generator/devtools/local_aws``): those are part of the emulated API,
not errors of this project.  Its internal signals (a resource that failed, a stack operation refused)
are the ``LocalAwsSignal`` classes at the end of this module.
"""

from __future__ import annotations

from typing import Iterable, Mapping


class CatalogError(Exception):
    """Base of every error hipaa-catalog reports to a user."""

    exit_code = 1
    # What the command had done when it failed (e.g. publish's report), for ``--json``: the CLI prints it
    # with the ``error`` object added, as one JSON document.
    result: dict | None = None

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class Interrupted(CatalogError):
    """The user interrupted a command (Ctrl-C); the message says what was left and the hint what to do."""

    exit_code = 130


class ConfigError(CatalogError):
    """Bad catalog settings, a bad product configuration or a bad command-line value."""

    exit_code = 2


class UsageError(ConfigError):
    """The command line itself is wrong (argparse's message); ``usage`` is the command's usage line."""

    def __init__(self, message: str, *, usage: str = "", hint: str | None = None):
        super().__init__(message, hint=hint)
        self.usage = usage


class BuildError(CatalogError):
    """A template could not be rendered or written, or a build is missing or stale."""


class LintError(CatalogError):
    """cfn-lint or a HIPAA rule found a problem in a template."""

    def __init__(self, message: str, findings: Iterable = (), *, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.findings = list(findings)


class ScenarioError(CatalogError):
    """A template's conditions could not be evaluated for a scenario."""


class ScanError(CatalogError):
    """An independent scanner could not run, or found failed checks."""


class DemoError(CatalogError):
    """A demo step failed; the message names the step."""


class AwsError(CatalogError):
    """A call to AWS failed in a way the user must act on (credentials, access, missing resource).

    ``code`` is AWS's error code when AWS answered (e.g. ``ResourceNotFoundException``), else "".
    """

    exit_code = 3

    def __init__(self, message: str, *, code: str = "", hint: str | None = None):
        super().__init__(message, hint=hint)
        self.code = code


class AwsCallError(AwsError):
    """One AWS API call failed: ``action`` is the operation, ``resource`` what it was called on."""

    def __init__(self, message: str, *, code: str = "", action: str = "", resource: str = "",
                 hint: str | None = None):
        super().__init__(message, code=code, hint=hint)
        self.action = action
        self.resource = resource


class PublishError(AwsError):
    """Publishing to S3 / Service Catalog did not reach the desired state."""


class LaunchError(AwsError):
    """A developer-side operation (launch, update, terminate) failed."""


class DeployError(AwsError):
    """An administrator's stack could not be created or updated; ``events`` are its failing resource events."""

    def __init__(self, message: str, events: Iterable[Mapping] = (), *, code: str = "", hint: str | None = None):
        events = list(events)
        lines = [f"  {e['LogicalResourceId']} ({e['ResourceType']}): {e['ResourceStatus']}: "
                 f"{e.get('ResourceStatusReason') or 'no reason given'}" for e in events]
        full = message + ("\nfailing resource events (newest first):\n" + "\n".join(lines) if lines else "")
        super().__init__(full, code=code, hint=hint)
        self.events = events


class LocalAwsError(AwsError):
    """The local AWS endpoint could not be started or did not answer."""


# --- the local AWS endpoint's internal signals (turned into AWS's answers there, never shown to a user) ---

class LocalAwsSignal(Exception):
    """Raised inside the local endpoint and answered as AWS would (a stack event, a ValidationError)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ParameterRefused(LocalAwsSignal):
    """The local CloudFormation refuses the parameters (a ``ValidationError``); nothing was created or changed."""


class UnknowableValue(LocalAwsSignal):
    """A template-rule function whose value the local endpoint cannot know (``Fn::ValueOf``: a VPC's tags ...)."""


class ResourceFailed(LocalAwsSignal):
    """One resource operation of the local CloudFormation failed; the stack event carries ``reason``."""

    def __init__(self, logical_id: str, reason: str):
        super().__init__(f"{logical_id}: {reason}")
        self.logical_id = logical_id
        self.reason = reason


class StackFailure(LocalAwsSignal):
    """The local CloudFormation refused or failed a stack operation; ``code`` is CloudFormation's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class PolicyNotEvaluable(LocalAwsSignal):
    """An IAM policy uses grammar the local IAM evaluator does not implement (an operator, an element)."""


class AccessDenied(LocalAwsSignal):
    """The local IAM evaluation refused a request; ``message`` is AWS's AccessDenied text."""

    def __init__(self, message: str, action: str, resource: str):
        super().__init__(message)
        self.action = action
        self.resource = resource

