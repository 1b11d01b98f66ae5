"""The project's one exception hierarchy.

Every error a user can cause is a ``CatalogError``; its message names the file, product, logical id
or field, what was found and what is allowed.  ``generator.cli.main`` is the one place that turns these
into a one-line message and an exit code.
"""

from __future__ import annotations


class CatalogError(Exception):
    """Base of every error hipaa-catalog reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(CatalogError):
    """Bad catalog settings or a bad product configuration."""

    exit_code = 2


class BuildError(CatalogError):
    """A template could not be rendered or written."""


class LintError(CatalogError):
    """cfn-lint or a HIPAA rule found a problem in a template."""

    def __init__(self, message: str, findings=(), *, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.findings = list(findings)


class ScenarioError(CatalogError):
    """A template's conditions could not be evaluated for a scenario."""


class AwsError(CatalogError):
    """A call to AWS failed in a way the user must act on (credentials, access, missing resource)."""

    exit_code = 3


class PublishError(AwsError):
    """Publishing to S3 / Service Catalog did not reach the desired state."""


class LaunchError(AwsError):
    """A developer-side operation (launch, update, terminate) failed."""
