"""Organizations responses: moto's handlers, each call sent to the organisation's backend if the caller may.

Who may call an operation is what its API reference page says (Organizations API Reference, e.g.
*ListAccounts*: "You can only call this operation from the management account or a member account that
is a delegated administrator"; *MoveAccount*: "You can only call this operation from the management
account"; *DescribeOrganization*: "You can call this operation from any account in a organization").
A delegated administrator gets "read-only access to Organizations service data"
(*RegisterDelegatedAdministrator*): the List* and Describe* operations.
"""

from __future__ import annotations

from moto.organizations.exceptions import AWSOrganizationsNotInUseException, OrganizationsClientError
from moto.organizations.responses import OrganizationsResponse as MotoOrganizationsResponse

from .models import OrganizationsBackend, organization_of

ANY_MEMBER = frozenset({"DescribeOrganization", "DescribeEffectivePolicy", "DescribeHandshake",
                        "ListHandshakesForAccount", "LeaveOrganization"})
OUTSIDE = frozenset({"CreateOrganization"})


class OrganizationsResponse(MotoOrganizationsResponse):
    @property
    def organizations_backend(self) -> OrganizationsBackend:  # type: ignore[override]
        action = self._get_action()
        if action in OUTSIDE:
            return super().organizations_backend  # type: ignore[return-value]
        management = organization_of(self.current_account, self.partition)
        if management is None:
            raise AWSOrganizationsNotInUseException
        if management.account_id == self.current_account or action in ANY_MEMBER:
            return management
        if action.startswith(("List", "Describe")) and management.is_delegated(self.current_account):
            return management
        reads = action.startswith(("List", "Describe"))
        who = ("a delegated administrator, whose access is read-only" if management.is_delegated(self.current_account)
               else "neither the management account nor a delegated administrator")
        raise OrganizationsClientError(
            "AccessDeniedException",
            f"You don't have permissions to access this resource: account {self.current_account} is {who} of "
            f"organization {management.org.id}" + ("" if reads else f"; {action} is for the management account"))
