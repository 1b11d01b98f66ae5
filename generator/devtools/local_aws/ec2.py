"""EC2 for the local endpoint: moto's, with an account's public AMIs made when its EC2 in a region first
looks at them instead of when that EC2 is created.

moto gives every account, in every region its EC2 is used in, its list of about 1,300 public AMIs, each with
a 15 GiB volume and a snapshot of it, and makes them all when it creates the account's EC2 backend of the
region: on the first EC2 call of any kind, the first stack with a security group, again after every reset.
Most of the endpoint's users (a VPC, a security group, a stack of the baseline) never look at an AMI.
Here the same AMIs are made the first time anything reads the backend's AMIs (DescribeImages, RunInstances,
a snapshot deletion, tag lookups): every answer about them is moto's.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.RLock()


def register() -> None:
    from moto.ec2.models.amis import AmiBackend

    if isinstance(AmiBackend.__dict__.get("amis"), property):
        return
    load = AmiBackend._load_amis

    def __init__(self: Any) -> None:   # moto's, but for the AMIs, made by ``amis`` when first read
        self.deleted_amis = []

    def amis(self: Any) -> dict[str, Any]:
        made = self.__dict__.get("_amis")
        if made is None:
            with _LOCK:
                made = self.__dict__.get("_amis")
                if made is None:
                    made = self.__dict__["_amis"] = {}
                    load(self)
        return made

    AmiBackend.__init__ = __init__   # type: ignore[method-assign]
    AmiBackend.amis = property(amis)   # type: ignore[attr-defined]


def make_amis() -> None:
    """Make the public AMIs of every account's EC2 in every region it has been used in so far (otherwise made
    when first read): a snapshot calls this before it forks, so the processes restored from it find them
    made instead of each making them again (snapshot.py)."""
    from moto.ec2.models import ec2_backends

    for regions in list(ec2_backends.values()):
        for backend in list(regions.values()):
            backend.amis   # noqa: B018 (the property makes them)
