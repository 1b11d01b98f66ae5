"""CodeCommit for the local endpoint: moto's repositories plus ListRepositories, PutFile, GetBranch and
GetCommit, which moto lacks.

``register()`` makes moto's server dispatch CodeCommit requests to this backend (as for Service Catalog).
"""

from __future__ import annotations


def register() -> None:
    import moto.codecommit

    from .models import codecommit_backends

    moto.codecommit.codecommit_backends = codecommit_backends
