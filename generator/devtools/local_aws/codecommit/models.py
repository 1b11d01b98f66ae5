"""moto's CodeCommit backend with ListRepositories and commits made through the API.

*ListRepositories* (https://docs.aws.amazon.com/codecommit/latest/APIReference/API_ListRepositories.html):
``sortBy`` ``repositoryName`` | ``lastModifiedDate``, ``order`` ``ascending`` | ``descending``, at most
1,000 repositories a page with ``nextToken``; each item has ``repositoryName`` and ``repositoryId``.

Commits (moto has none): *PutFile* "Adds or updates a file in a branch ... and generates a commit for the
addition in the specified branch"; its ``parentCommitId`` must be "the head commit at the time of the
operation" unless the repository is empty, where the branch "is created"
(https://docs.aws.amazon.com/codecommit/latest/APIReference/API_PutFile.html).  "When you create your first
commit, a default branch is created for you" (*Working with branches*, AWS CodeCommit User Guide,
https://docs.aws.amazon.com/codecommit/latest/userguide/branches.html), so the first commit's branch becomes
``defaultBranch`` of GetRepository.  *GetBranch* returns ``branch`` (``branchName``, ``commitId``) and
*GetCommit* ``commit`` (``commitId``, ``treeId``, ``parents``, ``message``, ``author``, ``committer``), with
``BranchDoesNotExistException`` / ``CommitIdDoesNotExistException`` otherwise.  Only the files' paths are
kept: there is no Git data behind these commits (nothing can be cloned from the local endpoint).
"""

from __future__ import annotations

import hashlib
from typing import Any

from moto.codecommit.exceptions import RepositoryDoesNotExistException
from moto.codecommit.models import CodeCommitBackend as MotoCodeCommitBackend
from moto.core.base_backend import BackendDict
from moto.core.exceptions import JsonRESTError
from moto.core.utils import iso_8601_datetime_with_milliseconds

PAGE = 1000


class CodeCommitError(JsonRESTError):
    code = 400


class CodeCommitBackend(MotoCodeCommitBackend):
    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.branches: dict[str, dict[str, str]] = {}          # repository -> branch -> commit id
        self.commits: dict[str, dict[str, dict[str, Any]]] = {}  # repository -> commit id -> commit

    def list_repositories(self, sort_by: str | None, order: str | None, token: str | None
                          ) -> tuple[list[dict[str, Any]], str | None]:
        key = "lastModifiedDate" if sort_by == "lastModifiedDate" else "repositoryName"
        repos = sorted((r.repository_metadata for r in self.repositories.values()), key=lambda m: m[key],
                       reverse=order == "descending")
        start = int(token) if token and token.isdigit() else 0
        page = [{"repositoryName": m["repositoryName"], "repositoryId": m["repositoryId"]}
                for m in repos[start:start + PAGE]]
        return page, (str(start + PAGE) if start + PAGE < len(repos) else None)

    def _repository(self, name: str) -> dict[str, Any]:
        repository = self.repositories.get(name)
        if repository is None:
            raise RepositoryDoesNotExistException(name)
        return repository.repository_metadata

    def delete_repository(self, repository_name: str) -> str | None:
        self.branches.pop(repository_name, None)
        self.commits.pop(repository_name, None)
        return super().delete_repository(repository_name)

    def put_file(self, name: str, branch: str, path: str, parent: str | None, message: str | None,
                 author: str | None, email: str | None) -> dict[str, str]:
        metadata = self._repository(name)
        branches = self.branches.setdefault(name, {})
        commits = self.commits.setdefault(name, {})
        head = branches.get(branch)
        if branches and head is None:
            raise CodeCommitError("BranchDoesNotExistException", f"Branch {branch} does not exist")
        if head is not None and not parent:
            raise CodeCommitError("ParentCommitIdRequiredException",
                                  "A parent commit ID is required. To view the full commit ID of a branch in a "
                                  "repository, use GetBranch or a Git command (for example, git pull or git log).")
        if head is not None and parent != head:
            raise CodeCommitError("ParentCommitIdOutdatedException",
                                  "The file could not be added because the provided parent commit ID is not the "
                                  "current tip of the specified branch. To view the full commit ID of the current "
                                  "head of the branch, use GetBranch.")
        now = iso_8601_datetime_with_milliseconds()
        commit_id = hashlib.sha1(f"{name}\0{branch}\0{path}\0{head}\0{len(commits)}".encode()).hexdigest()
        tree_id = hashlib.sha1(f"tree\0{commit_id}".encode()).hexdigest()
        person = {"name": author or "", "email": email or "", "date": now}
        commits[commit_id] = {"commitId": commit_id, "treeId": tree_id, "parents": [head] if head else [],
                              "message": message or "", "author": person, "committer": person,
                              "additionalData": ""}
        branches[branch] = commit_id
        metadata.setdefault("defaultBranch", branch)
        metadata["lastModifiedDate"] = now
        return {"commitId": commit_id, "blobId": hashlib.sha1(path.encode()).hexdigest(), "treeId": tree_id}

    def get_branch(self, name: str, branch: str) -> dict[str, str]:
        self._repository(name)
        commit = self.branches.get(name, {}).get(branch)
        if commit is None:
            raise CodeCommitError("BranchDoesNotExistException", f"Branch {branch} does not exist")
        return {"branchName": branch, "commitId": commit}

    def get_commit(self, name: str, commit_id: str) -> dict[str, Any]:
        self._repository(name)
        commit = self.commits.get(name, {}).get(commit_id)
        if commit is None:
            raise CodeCommitError("CommitIdDoesNotExistException", f"Commit {commit_id} does not exist")
        return commit


codecommit_backends = BackendDict(CodeCommitBackend, "codecommit")
