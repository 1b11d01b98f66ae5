"""moto's CodeCommit backend with ListRepositories.

*ListRepositories* (https://docs.aws.amazon.com/codecommit/latest/APIReference/API_ListRepositories.html):
``sortBy`` ``repositoryName`` | ``lastModifiedDate``, ``order`` ``ascending`` | ``descending``, at most
1,000 repositories a page with ``nextToken``; each item has ``repositoryName`` and ``repositoryId``.
"""

from __future__ import annotations

from typing import Any

from moto.core.base_backend import BackendDict
from moto.codecommit.models import CodeCommitBackend as MotoCodeCommitBackend

PAGE = 1000


class CodeCommitBackend(MotoCodeCommitBackend):
    def list_repositories(self, sort_by: str | None, order: str | None, token: str | None
                          ) -> tuple[list[dict[str, Any]], str | None]:
        key = "lastModifiedDate" if sort_by == "lastModifiedDate" else "repositoryName"
        repos = sorted((r.repository_metadata for r in self.repositories.values()), key=lambda m: m[key],
                       reverse=order == "descending")
        start = int(token) if token and token.isdigit() else 0
        page = [{"repositoryName": m["repositoryName"], "repositoryId": m["repositoryId"]}
                for m in repos[start:start + PAGE]]
        return page, (str(start + PAGE) if start + PAGE < len(repos) else None)


codecommit_backends = BackendDict(CodeCommitBackend, "codecommit")
