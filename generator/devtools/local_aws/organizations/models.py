"""Organizations backend: moto's, with MoveAccount's checks, a place-change announcement and lookups.

See the package docstring for the API emulated.  The organisation lives in the management account's
backend (moto's design); member accounts' backends are empty and the responses route their calls to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.organizations.exceptions import InvalidInputException
from moto.organizations.exceptions import OrganizationsClientError
from moto.organizations.models import FakeAccount, FakeDelegatedAdministrator
from moto.organizations.models import OrganizationsBackend as MotoOrganizationsBackend
from moto.organizations.models import organizations_backends

SERVICE_CATALOG = "servicecatalog.amazonaws.com"
STACKSETS = "member.org.stacksets.cloudformation.amazonaws.com"

# Services that support a delegated administrator (*AWS services that you can use with AWS Organizations*,
# "Supports delegated administrator" column, https://docs.aws.amazon.com/organizations/latest/userguide/orgs_integrated-services-list.html):
# moto's list, plus CloudFormation StackSets, whose delegated administrator is registered with this
# principal (*Register a delegated administrator*, CloudFormation User Guide,
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html).
DELEGATABLE = (*FakeDelegatedAdministrator.SUPPORTED_SERVICES, STACKSETS)

# Called as listener(management_backend, account_id, old_parent_id, new_parent_id) when an account joins
# (old None), moves, or leaves (new None) the organisation.
Listener = Callable[["OrganizationsBackend", str, "str | None", "str | None"], None]
LISTENERS: list[Listener] = []


def _error(code: str, message: str) -> OrganizationsClientError:
    return OrganizationsClientError(code, message)


def organization_of(account_id: str, partition: str = "aws") -> "OrganizationsBackend | None":
    """The management account's backend of the organisation ``account_id`` belongs to, or None."""
    owner = organizations_backends.master_accounts.get(account_id)
    backend = organizations_backends[owner[0] if owner else account_id][owner[1] if owner else partition]
    return backend if backend.org is not None else None


class OrganizationsBackend(MotoOrganizationsBackend):
    # -- lookups for the other services ----------------------------------------------------------
    def is_enabled(self, service_principal: str) -> bool:
        return any(s["ServicePrincipal"] == service_principal for s in self.services)

    def is_delegated(self, account_id: str, service_principal: str | None = None) -> bool:
        """Is ``account_id`` a delegated administrator (for ``service_principal``, or for any service)?"""
        return any(a.account.id == account_id and (service_principal is None or service_principal in a.services)
                   for a in self.admins)

    def account(self, account_id: str) -> FakeAccount | None:
        return next((a for a in self.accounts if a.id == account_id), None)

    def ancestors(self, parent_id: str) -> list[str]:
        """``parent_id`` and every OU above it, up to the root."""
        chain, seen = [], set()
        while parent_id and parent_id not in seen:
            chain.append(parent_id)
            seen.add(parent_id)
            ou = next((o for o in self.ou if o.id == parent_id), None)
            parent_id = getattr(ou, "parent_id", None) if ou is not None else None
        return chain

    def accounts_under(self, node_id: str) -> list[FakeAccount]:
        """The ACTIVE accounts in the root / OU ``node_id`` or any OU below it (the organisation id: all)."""
        if self.org is not None and node_id == self.org.id:
            node_id = self.org.root_id
        return [a for a in self.accounts if a.status == "ACTIVE" and node_id in self.ancestors(a.parent_id)]

    def _announce(self, account_id: str, old: str | None, new: str | None) -> None:
        for listener in list(LISTENERS):
            listener(self, account_id, old, new)

    # -- operations ------------------------------------------------------------------------------
    def create_account(self, **kwargs: Any) -> dict[str, Any]:
        status = super().create_account(**kwargs)
        account = self.accounts[-1]
        self._announce(account.id, None, account.parent_id)
        return status

    def move_account(self, **kwargs: Any) -> None:
        # *MoveAccount* errors (https://docs.aws.amazon.com/organizations/latest/APIReference/API_MoveAccount.html):
        # SourceParentNotFoundException, DestinationParentNotFoundException, DuplicateAccountException
        # ("That account is already present in the specified destination"), AccountNotFoundException.
        known = {ou.id for ou in self.ou}
        source, destination = kwargs.get("SourceParentId"), kwargs.get("DestinationParentId")
        if source not in known:
            raise _error("SourceParentNotFoundException",
                         "We can't find a source root or OU with the ParentId that you specified.")
        if destination not in known:
            raise _error("DestinationParentNotFoundException",
                         "We can't find a destination root or OU with the ParentId that you specified.")
        account = self.get_account_by_id(kwargs.get("AccountId", ""))
        if account.parent_id == destination:
            raise _error("DuplicateAccountException", "That account is already present in the specified destination.")
        if account.parent_id != source:
            raise _error("AccountNotFoundException",
                         f"You specified an account that doesn't exist in the source parent {source}.")
        account.parent_id = destination
        self._announce(account.id, source, destination)

    def remove_account_from_organization(self, **kwargs: str) -> None:
        account = self.get_account_by_id(kwargs.get("AccountId", ""))
        parent = account.parent_id
        super().remove_account_from_organization(**kwargs)
        self._announce(account.id, parent, None)

    def register_delegated_administrator(self, **kwargs: str) -> None:
        principal = kwargs.get("ServicePrincipal", "")
        if principal not in DELEGATABLE:
            raise InvalidInputException("You specified an unrecognized service principal.")
        if principal in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
            super().register_delegated_administrator(**kwargs)
            return
        # moto's model refuses services outside its list: register this one the same way
        account_id = kwargs["AccountId"]
        if account_id == self.account_id:
            raise _error("ConstraintViolationException", "You cannot register master account/yourself as "
                                                          "delegated administrator for your organization.")
        admin = next((a for a in self.admins if a.account.id == account_id), None)
        if admin is None:
            admin = FakeDelegatedAdministrator(self.get_account_by_id(account_id))
            self.admins.append(admin)
        if principal in admin.services:
            raise _error("AccountAlreadyRegisteredException",
                         "The provided account is already a delegated administrator for your organization.")
        from moto.core.utils import unix_time

        admin.services[principal] = {"ServicePrincipal": principal, "DelegationEnabledDate": unix_time()}

    def list_delegated_administrators(self, **kwargs: str) -> dict[str, Any]:
        service = kwargs.get("ServicePrincipal")
        if service and service not in DELEGATABLE:
            raise InvalidInputException("You specified an unrecognized service principal.")
        return {"DelegatedAdministrators": [a.describe() for a in self.admins
                                            if not service or service in a.services]}

    def deregister_delegated_administrator(self, **kwargs: str) -> None:
        admin = next((a for a in self.admins if a.account.id == kwargs.get("AccountId")), None)
        if admin is None or kwargs.get("ServicePrincipal") not in admin.services:
            super().deregister_delegated_administrator(**kwargs)
            return
        admin.services.pop(kwargs["ServicePrincipal"])
        if not admin.services:
            self.admins.remove(admin)
