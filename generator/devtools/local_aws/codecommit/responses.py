"""CodeCommit request handlers: moto's, with ListRepositories and our backend."""

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
