"""CodeCommit request handlers: moto's, with ListRepositories, PutFile, GetBranch, GetCommit and our backend."""

from __future__ import annotations

import json

from moto.codecommit.responses import CodeCommitResponse as MotoCodeCommitResponse

from .models import CodeCommitBackend, codecommit_backends


class CodeCommitResponse(MotoCodeCommitResponse):
    @property
    def codecommit_backend(self) -> CodeCommitBackend:  # type: ignore[override]
        return codecommit_backends[self.current_account][self.region]

    def list_repositories(self) -> str:
        page, token = self.codecommit_backend.list_repositories(
            self._get_param("sortBy"), self._get_param("order"), self._get_param("nextToken"))
        return json.dumps({"repositories": page, **({"nextToken": token} if token else {})})

    def put_file(self) -> str:
        return json.dumps(self.codecommit_backend.put_file(
            self._get_param("repositoryName"), self._get_param("branchName"), self._get_param("filePath"),
            self._get_param("parentCommitId"), self._get_param("commitMessage"), self._get_param("name"),
            self._get_param("email")))

    def get_branch(self) -> str:
        return json.dumps({"branch": self.codecommit_backend.get_branch(self._get_param("repositoryName"),
                                                                        self._get_param("branchName"))})

    def get_commit(self) -> str:
        return json.dumps({"commit": self.codecommit_backend.get_commit(self._get_param("repositoryName"),
                                                                        self._get_param("commitId"))})
