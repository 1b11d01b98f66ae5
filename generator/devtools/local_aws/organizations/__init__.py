"""AWS Organizations for the local endpoint: moto's organisation, OUs and accounts, called as AWS allows.

API note (what is emulated; ``generator.devtools.local_aws.organizations.models``):

* CreateOrganization (feature set ALL), DescribeOrganization, ListRoots, Create/Describe/Update/Delete
  OrganizationalUnit, ListOrganizationalUnitsForParent, ListChildren, ListParents, CreateAccount (its
  status SUCCEEDED at once), DescribeAccount, ListAccounts, ListAccountsForParent, MoveAccount,
  RemoveAccountFromOrganization, CloseAccount, EnableAWSServiceAccess / DisableAWSServiceAccess /
  ListAWSServiceAccessForOrganization, RegisterDelegatedAdministrator / DeregisterDelegatedAdministrator
  / ListDelegatedAdministrators / ListDelegatedServicesForAccount, policies and tags (moto's).
* Who may call what, as each operation's API reference page says: "You can only call this operation from
  the management account" (writes), "... from the management account or a member account that is a
  delegated administrator" (reads), DescribeOrganization "from any account in a organization"; anyone else
  gets ``AccessDeniedException``, an account outside every organisation ``AWSOrganizationsNotInUseException``.
  A member account calls with the credentials of ``sts:AssumeRole`` into it (moto maps the session's keys
  to that account), e.g. into the ``OrganizationAccountAccessRole`` CreateAccount makes.
* MoveAccount checks the source parent, the destination and that the account is not already there
  (``SourceParentNotFoundException``, ``DestinationParentNotFoundException``,
  ``DuplicateAccountException``, ``AccountNotFoundException``).
* Changes of an account's place (CreateAccount, MoveAccount, RemoveAccountFromOrganization) are announced
  to ``models.LISTENERS`` (service-managed StackSets' automatic deployment listens).
* ``models.organization_of(account_id)``: the management account's backend of the organisation an account
  belongs to, and ``models.ancestors`` / ``models.accounts_under``: what Service Catalog shares and
  StackSets resolve their targets with.

Not modelled: invitations and handshakes, account closure's 90-day PENDING_CLOSURE, policy effects (SCPs
are stored, never enforced), responsibility transfers.
"""

from __future__ import annotations


def register() -> None:
    """Make moto build our backend for Organizations (its responses then come from our ``urls``)."""
    from moto.organizations.models import organizations_backends

    from .models import OrganizationsBackend

    organizations_backends.backend = OrganizationsBackend


def reset() -> None:
    """Forget which accounts belong to which organisation (moto keeps that beside the backends)."""
    from moto.organizations.models import organizations_backends

    organizations_backends.master_accounts.clear()
