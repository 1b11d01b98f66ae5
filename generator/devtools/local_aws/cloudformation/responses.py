"""CloudFormation responses: moto's, less its own no-change check, with service-managed StackSets.

moto's CreateChangeSet refuses an update whose template and parameters are unchanged with
``ValidationError: No updates are to be performed.``; AWS creates the change set and marks it
``FAILED`` with "The submitted information didn't contain changes", which the backend does.  For
UpdateStack the backend answers "No updates are to be performed." itself, after resolving the
parameters as CloudFormation does.

A StackSet request is ours (``stacksets``) when it creates a SERVICE_MANAGED stack set or names one the
caller administers (the management account, or a delegated administrator with ``CallAs=DELEGATED_ADMIN``);
everything else about stack sets is moto's.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.responses import CloudFormationResponse as MotoCloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult

from . import stacksets


class CloudFormationResponse(MotoCloudFormationResponse):
    def _validate_different_update(self, incoming_params: Any, stack_body: str, old_stack: Any) -> None:
        return None  # see the module docstring

    def _get_stack_from_s3_url(self, template_url: str) -> str:
        """A TemplateURL in any form S3 is addressed by, the endpoint's path style ``http://127.0.0.1:PORT/BUCKET/KEY``
        included (moto's own reads only ``localhost`` and AWS host names), from the caller's S3.  An object that is
        not there is AWS's "TemplateURL must reference a valid S3 object to which you have access."
        (serverless/serverless#2775)."""
        from ..servicecatalog.exceptions import InvalidParametersException
        from ..servicecatalog.templates import fetch

        try:
            return fetch(template_url, self.current_account, self.partition)
        except InvalidParametersException as exc:
            raise ValidationError(message="TemplateURL must reference a valid S3 object to which you have "
                                          "access.") from exc


    # -- service-managed StackSets --------------------------------------------------------------
    STACK_SET_ACTIONS = frozenset({
        "ActivateOrganizationsAccess", "DeactivateOrganizationsAccess", "DescribeOrganizationsAccess",
        "CreateStackSet", "DescribeStackSet", "ListStackSets", "UpdateStackSet", "DeleteStackSet",
        "CreateStackInstances", "UpdateStackInstances", "DeleteStackInstances", "ListStackInstances",
        "DescribeStackInstance", "DescribeStackSetOperation", "ListStackSetOperations",
        "ListStackSetOperationResults", "DetectStackSetDrift"})

    def call_action(self):  # type: ignore[no-untyped-def]
        if self._get_action() not in self.STACK_SET_ACTIONS:
            return super().call_action()
        with stacksets.LOCK:
            return super().call_action()

    def _params(self) -> dict[str, Any]:
        return self._get_params()

    def _admin(self):
        return stacksets.admin_backend(self.current_account, self.region, self._params().get("CallAs"),
                                       self.partition)

    def _managed(self):
        """(management backend, stack set) when the request names a service-managed stack set the caller
        administers; None for moto's (self-managed) ones."""
        params = self._params()
        try:
            backend = self._admin()
        except ValidationError:
            if params.get("CallAs") == "DELEGATED_ADMIN":
                raise
            return None
        try:
            return backend, stacksets.find(backend, params.get("StackSetName"))
        except stacksets.StackSetNotFoundException:
            return None

    def _template(self, params: dict[str, Any]) -> str | None:
        if params.get("TemplateURL"):
            return self._get_stack_from_s3_url(params["TemplateURL"])
        return params.get("TemplateBody")

    def activate_organizations_access(self) -> ActionResult:
        from ..organizations.models import organization_of

        self._admin()
        organization_of(self.current_account).enable_aws_service_access(ServicePrincipal=stacksets.STACKSETS)
        return EmptyResult()

    def deactivate_organizations_access(self) -> ActionResult:
        from ..organizations.models import organization_of

        self._admin()
        organization_of(self.current_account).disable_aws_service_access(ServicePrincipal=stacksets.STACKSETS)
        return EmptyResult()

    def describe_organizations_access(self) -> ActionResult:
        from ..organizations.models import organization_of

        self._admin()
        enabled = organization_of(self.current_account).is_enabled(stacksets.STACKSETS)
        return ActionResult({"Status": "ENABLED" if enabled else "DISABLED"})

    def create_stack_set(self) -> ActionResult:
        params = self._params()
        if params.get("PermissionModel") != "SERVICE_MANAGED":
            return super().create_stack_set()
        backend = self._admin()
        template = self._template(params)
        if not template:
            raise ValidationError(message="Either TemplateBody or TemplateURL must be specified")
        return ActionResult({"StackSetId": stacksets.create_stack_set(backend, params, template).id})

    def describe_stack_set(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            return super().describe_stack_set()
        return ActionResult({"StackSet": managed[1].describe()})

    def list_stack_sets(self) -> ActionResult:
        try:
            ours = [s.summary() for s in stacksets.stack_sets(self._admin()).values()]
        except ValidationError:
            if self._params().get("CallAs") == "DELEGATED_ADMIN":
                raise
            ours = []
        theirs = [s for s in self.cloudformation_backend.list_stack_sets() if s.permission_model != "SERVICE_MANAGED"]
        wanted = self._params().get("Status")
        ours = [s for s in ours if wanted in (None, s["Status"])]
        return ActionResult({"Summaries": [*theirs, *ours]})

    def update_stack_set(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            return super().update_stack_set()
        params = self._params()
        return ActionResult({"OperationId": stacksets.update_stack_set(*managed, params, self._template(params))})

    def delete_stack_set(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            return super().delete_stack_set()
        stacksets.delete_stack_set(managed[0], managed[1].name)
        return EmptyResult()

    def create_stack_instances(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            return super().create_stack_instances()
        stacksets.require_trusted_access(managed[0])
        return ActionResult({"OperationId": stacksets.create_instances(*managed, self._params())})

    def update_stack_instances(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            return super().update_stack_instances()
        return ActionResult({"OperationId": stacksets.update_instances(*managed, self._params())})

    def delete_stack_instances(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            return super().delete_stack_instances()
        return ActionResult({"OperationId": stacksets.delete_instances(*managed, self._params())})

    def list_stack_instances(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            return super().list_stack_instances()
        return ActionResult({"Summaries": [i.summary() for i in stacksets.list_instances(managed[1], self._params())]})

    def describe_stack_instance(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            return super().describe_stack_instance()
        params = self._params()
        found = stacksets.instance(managed[1], params.get("StackInstanceAccount"), params.get("StackInstanceRegion"))
        return ActionResult({"StackInstance": found.describe()})

    def describe_stack_set_operation(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            return super().describe_stack_set_operation()
        found = stacksets.operation(managed[1], self._params().get("OperationId"), observe=True)
        return ActionResult({"StackSetOperation": found.describe(managed[1])})

    def list_stack_set_operations(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            return super().list_stack_set_operations()
        return ActionResult({"Summaries": [o.summary() for o in managed[1].operations.values()]})

    def list_stack_set_operation_results(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            return super().list_stack_set_operation_results()
        found = stacksets.operation(managed[1], self._params().get("OperationId"))
        return ActionResult({"Summaries": found.results})

    def detect_stack_set_drift(self) -> ActionResult:
        managed = self._managed()
        if managed is None:
            raise stacksets.StackSetNotFoundException(f"StackSet {self._params().get('StackSetName')} not found")
        return ActionResult({"OperationId": stacksets.detect_drift(managed[1], self._params())})
