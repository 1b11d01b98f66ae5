"""What the web server's launch, release and terminate need besides Service Catalog, with the developer's
own credentials.

A developer holds ``AWSCodeCommitPowerUser`` and read access to the administrator's AMI setting (both
given to the HealthcareDeveloper group by the account baseline), so, before anything is provisioned:

- ``launch`` checks that the ``CodeCommitRepo`` repository exists (CodeCommit GetRepository): a wrong URL
  is refused at once instead of timing the bootstrap out half an hour later; it pins ``AmiVersion`` to the
  AMI setting's current version (SSM GetParameter returns ``Version``) and ``Revision`` to the commit the
  repository's default branch points to, so the outputs name that commit;
- ``release NAME --revision REV`` resolves REV in the provisioned product's repository (its
  ``SiteRepository`` output) to a commit id (GetBranch for a branch, GetCommit for a commit id, the
  repository's ``defaultBranch`` for HEAD) and updates the product with it: cfn-hup on the instance then
  deploys exactly that commit, and the ``SiteRevision`` output names it;
- ``terminate``, and an ``update`` that takes a PROD server to TEST, first turn the load balancer's
  deletion protection off (an update with ``DeletionProtection=false``, which Service Catalog performs with
  the launch role), since "You can't delete a load balancer if deletion protection is enabled" (*Delete an
  Application Load Balancer*, https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-delete.html).

CodeCommit API: *GetRepository* (``repositoryMetadata.defaultBranch``), *GetBranch* ("Returns information
about a repository branch, including its name and the last commit ID"), *GetCommit*
(https://docs.aws.amazon.com/codecommit/latest/APIReference/); "When you create your first commit, a default
branch is created for you" (*Working with branches*, AWS CodeCommit User Guide,
https://docs.aws.amazon.com/codecommit/latest/userguide/branches.html): a repository without one is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

from generator.aws import api as aws
from generator.aws.consumer import Consumer
from generator.aws.parameters import ParameterSpec
from generator.blocks import admin_settings as admin
from generator.blocks.catalog import (AMI_VERSION_PARAMETER, DELETION_PROTECTION_OUTPUT, DELETION_PROTECTION_PARAMETER,
                                      ENVIRONMENT_PARAMETER, REPOSITORY_OUTPUT, REPOSITORY_PARAMETER, REVISION_OUTPUT,
                                      REVISION_PARAMETER)
from generator.errors import AwsCallError, Interrupted, LaunchError

Progress = Callable[[str], None]
CLONE_URL = re.compile(r"https://git-codecommit\.([a-z0-9-]+)\.amazonaws\.com/v1/repos/([A-Za-z0-9._-]{1,100})")
COMMIT_ID = re.compile(r"[0-9a-f]{40}")
HEAD = "HEAD"


@dataclass(frozen=True)
class Resolved:
    """A revision as the developer named it and the commit it is now."""

    commit: str
    named: str   # HEAD, the branch, or the commit id given
    branch: str  # the branch it was taken from ("" for a commit id)


def repository_of(url: str) -> tuple[str, str]:
    """(region, repository name) of a ``cloneUrlHttp``."""
    m = CLONE_URL.fullmatch(url or "")
    if not m:
        raise LaunchError(f"{REPOSITORY_PARAMETER} {url!r} is not a CodeCommit clone URL",
                          hint="use the repository's cloneUrlHttp: https://git-codecommit.<region>.amazonaws.com"
                               "/v1/repos/<name>")
    return m.group(1), m.group(2)


class Site:
    """The developer's CodeCommit and SSM reads for the web server (one region of the catalog)."""

    def __init__(self, region: str, *, ssm_prefix: str, progress: Progress | None = None, session=None,
                 check_stop: Callable[[], None] | None = None):
        self.region = region
        self.ssm_prefix = ssm_prefix
        self.session = session or aws.session(region)
        self.progress = progress or (lambda _m: None)
        # called before each call: raises Interrupted once Ctrl-C was pressed (the consumer's ``check_stop``,
        # which knows what was already requested)
        self.check_stop = check_stop or (lambda: None)

    def _codecommit(self, region: str):
        self.check_stop()
        return aws.client(self.session, "codecommit", region, progress=self.progress)

    def _call(self, c, operation: str, resource: str, **params):
        self.check_stop()
        try:
            return aws.call(c, operation, resource, **params)
        except AwsCallError as exc:
            raise LaunchError(exc.message, code=exc.code, hint=exc.hint) from exc

    # -- the repository
    def repository(self, url: str) -> dict:
        """The repository's metadata; a missing one is refused naming it and how to create it."""
        region, name = repository_of(url)
        try:
            return aws.call(self._codecommit(region), "GetRepository", f"repository {name} in {region}",
                            repositoryName=name)["repositoryMetadata"]
        except AwsCallError as exc:
            if exc.code == "RepositoryDoesNotExistException":
                raise LaunchError(
                    f"{REPOSITORY_PARAMETER}: there is no CodeCommit repository {name} in {region} ({url}); the "
                    "server would wait for it until its bootstrap times out", code=exc.code,
                    hint=f"create it (aws codecommit create-repository --repository-name {name} --region {region}) "
                         "and push the site, or fix the URL") from exc
            raise LaunchError(exc.message, code=exc.code, hint=exc.hint) from exc

    def resolve(self, url: str, revision: str) -> Resolved | None:
        """The commit ``revision`` (HEAD, a branch or a commit id) is now; None for HEAD of an empty repository."""
        region, name = repository_of(url)
        metadata = self.repository(url)
        cc = self._codecommit(region)
        where = f"repository {name} in {region}"
        if revision == HEAD:
            branch = metadata.get("defaultBranch")
            if not branch:
                return None
            commit = self._call(cc, "GetBranch", where, repositoryName=name, branchName=branch)["branch"]["commitId"]
            return Resolved(commit, HEAD, branch)
        if COMMIT_ID.fullmatch(revision):
            try:
                aws.call(cc, "GetCommit", where, repositoryName=name, commitId=revision)
            except AwsCallError as exc:
                if exc.code in ("CommitIdDoesNotExistException", "CommitDoesNotExistException"):
                    raise LaunchError(f"repository {name} has no commit {revision}", code=exc.code,
                                      hint="give a commit id of the repository, a branch, or HEAD") from exc
                raise LaunchError(exc.message, code=exc.code, hint=exc.hint) from exc
            return Resolved(revision, revision, "")
        try:
            found = aws.call(cc, "GetBranch", where, repositoryName=name, branchName=revision)["branch"]
        except AwsCallError as exc:
            if exc.code == "BranchDoesNotExistException":
                raise LaunchError(f"repository {name} has no branch {revision!r}", code=exc.code,
                                  hint="give a branch of the repository, a full 40-character commit id, or HEAD "
                                       "(its default branch)") from exc
            raise LaunchError(exc.message, code=exc.code, hint=exc.hint) from exc
        return Resolved(found["commitId"], revision, revision)

    # -- the AMI setting
    def ami_version(self) -> str:
        """The current version of the administrator's AMI setting."""
        name = admin.WEB_SERVER_AMI.full_name(self.ssm_prefix)
        self.check_stop()
        try:
            parameter = aws.call(aws.client(self.session, "ssm", self.region), "GetParameter",
                                 f"SSM parameter {name}", Name=name)["Parameter"]
        except AwsCallError as exc:
            if exc.code == "ParameterNotFound":
                raise LaunchError(f"the administrator's AMI setting {name} does not exist in {self.region}",
                                  code=exc.code, hint="ask the administrators to deploy the account baseline "
                                                      "(`hipaa-catalog doctor` lists what a launch needs)") from exc
            raise LaunchError(exc.message, code=exc.code,
                              hint=f"give -p {AMI_VERSION_PARAMETER}=<a version of {name}>, or ask the "
                                   "administrators for read access to it (the account baseline gives it to the "
                                   f"{admin.DEVELOPER_GROUP} group)") from exc
        return str(parameter["Version"])

    # -- what launch and update add (the consumer's ``prepare``)
    def prepare(self, specs: Mapping[str, ParameterSpec], given: Mapping[str, str],
                current_keys: set[str] | None) -> dict[str, str]:
        """``given`` with the repository checked and, where the version declares them: ``AmiVersion`` pinned
        to the setting's current version when the provisioned product has none yet (a launch, or an update
        to a version that adds it), and ``Revision`` resolved to a commit id whenever a repository is given
        (the default branch's commit unless a revision is given too: a launch, or an update that changes the
        repository)."""
        out = dict(given)
        url = given.get(REPOSITORY_PARAMETER) if REPOSITORY_PARAMETER in specs else None
        if url:
            self.repository(url)
        if AMI_VERSION_PARAMETER in specs and AMI_VERSION_PARAMETER not in given and (
                current_keys is None or AMI_VERSION_PARAMETER not in current_keys):
            out[AMI_VERSION_PARAMETER] = self.ami_version()
            self.progress(f"{AMI_VERSION_PARAMETER} = {out[AMI_VERSION_PARAMETER]}: the current version of "
                          f"{admin.WEB_SERVER_AMI.full_name(self.ssm_prefix)}, the administrator's AMI")
        if url and REVISION_PARAMETER in specs:
            resolved = self.resolve(url, given.get(REVISION_PARAMETER, HEAD))
            out[REVISION_PARAMETER] = resolved.commit if resolved else HEAD
            note = (f"the commit {resolved.branch} is at now" if resolved and resolved.branch else "a commit id"
                    ) if resolved else "the repository is empty; the server deploys its default branch once it has one"
            self.progress(f"{REVISION_PARAMETER} = {out[REVISION_PARAMETER]}: {note}")
        return out


def release(consumer: Consumer, site: Site, name: str, revision: str, wait: bool = True) -> dict:
    """Update provisioned product ``name`` to serve the commit ``revision`` is now (its version kept)."""
    outputs = consumer.status(name)["outputs"]
    url = outputs.get(REPOSITORY_OUTPUT)
    if url is None or REVISION_OUTPUT not in outputs:
        raise LaunchError(f"provisioned product {name} has no {REPOSITORY_OUTPUT} and {REVISION_OUTPUT} outputs: its "
                          "product version predates releases by commit",
                          hint=f"update it to a newer version first: hipaa-catalog update {name} --version VERSION")
    resolved = site.resolve(url, revision)
    if resolved is None:
        raise LaunchError(f"repository {repository_of(url)[1]} is empty: there is no commit to release",
                          hint="push a commit to it first")
    site.progress(f"releasing {resolved.commit}" + (f" ({resolved.branch})" if resolved.branch else "")
                  + f" to {name}; it serves {outputs[REVISION_OUTPUT]} now")
    result = consumer.update(name, None, {REVISION_PARAMETER: resolved.commit}, wait=wait)
    return {**result, "revision": resolved.commit, "named": resolved.named, "branch": resolved.branch,
            "previous_revision": outputs[REVISION_OUTPUT]}


def _unprotect(consumer: Consumer, name: str, why: str, progress: Progress) -> bool:
    """Turn the load balancer's deletion protection off when the product's outputs say it is on."""
    if consumer.status(name)["outputs"].get(DELETION_PROTECTION_OUTPUT) != "true":
        return False
    progress(f"{name}: turning the load balancer's deletion protection off first, {why} (an update through "
             "Service Catalog, done by the launch role)")
    try:
        consumer.update(name, None, {DELETION_PROTECTION_PARAMETER: "false"})
    except Interrupted as exc:
        if not consumer.requests:
            raise
        raise Interrupted(f"{exc.message}; it turns the load balancer's deletion protection off, {why}",
                          hint=f"{exc.hint}; once it has ended, run the same command again to finish") from exc
    return True


def update(consumer: Consumer, site: Site, name: str, version: str | None, params: Mapping[str, str],
           wait: bool = True) -> dict:
    """``consumer.update`` with ``site.prepare``; a ``Revision`` alone is resolved in the product's repository
    (its ``SiteRepository`` output) to the commit it is now.  A PROD server moving to another Environment first loses its
    load balancer's deletion protection: CloudFormation deletes the load balancer in the update's cleanup
    phase, and a protected one would stay behind, running but no longer in the stack ("If during the cleanup
    phase CloudFormation is unable to delete the old resource ... leave the physical resource running but
    orphaned", *Update behaviors of stack resources*,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html).
    The update itself sets DeletionProtection back to true, for the next time the server is PROD."""
    params = dict(params)
    if REVISION_PARAMETER in params and REPOSITORY_PARAMETER not in params:
        url = consumer.status(name)["outputs"].get(REPOSITORY_OUTPUT)
        resolved = site.resolve(url, params[REVISION_PARAMETER]) if url else None
        if resolved is not None:  # the commit, so that SiteRevision names it (as `release` does)
            params[REVISION_PARAMETER] = resolved.commit
    leaves_prod = params.get(ENVIRONMENT_PARAMETER, "PROD") != "PROD"
    if leaves_prod and _unprotect(consumer, name, "since the load balancer goes", site.progress):
        params.setdefault(DELETION_PROTECTION_PARAMETER, "true")
    return consumer.update(name, version, params, prepare=site.prepare, wait=wait)


def terminate(consumer: Consumer, name: str, progress: Progress | None = None, wait: bool = True) -> dict:
    """Turn the load balancer's deletion protection off (when it is on), then terminate ``name``.  The update
    turning it off is always waited for (the termination needs it done); ``wait`` applies to the termination."""
    progress = progress or (lambda _m: None)
    try:
        unprotected = _unprotect(consumer, name, "since a protected load balancer cannot be deleted", progress)
    except LaunchError as exc:
        raise LaunchError(f"{name}: not terminated: its load balancer's deletion protection could not be "
                          f"turned off: {exc.message}", code=exc.code,
                          hint=f"see `hipaa-catalog status {name}`; then run this again") from exc
    try:
        result = consumer.terminate(name, wait=wait)
    except LaunchError as exc:
        if unprotected:
            raise LaunchError(exc.message + "; the load balancer's deletion protection is off now", code=exc.code,
                              hint=f"run `hipaa-catalog terminate {name}` again, or turn it back on: "
                                   f"hipaa-catalog update {name} -p {DELETION_PROTECTION_PARAMETER}=true") from exc
        raise
    return {**result, "deletion_protection_turned_off": unprotected}
