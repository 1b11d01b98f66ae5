"""The InstanceType list a launch form offers, derived at build time from cfn-lint's per-region data.

A type is offered when all of these hold (each is a small function below, tested on its own):

- it exists in **every** catalog region, per cfn-lint's bundled ``AWS::EC2::Instance`` InstanceType enum
  (``cfnlint/data/schemas/extensions/aws_ec2_instance/instancetype_enum.json``), so a launch in any
  region can use it;
- its family **supports EBS encryption and is current generation** (``ebs_encryption_eligible``).  The rule:
  every current-generation family supports EBS encryption (all Nitro families do); the previous-generation
  families do not (t1, m1, m2, c1, cc1, cc2, cg1, hi1, hs1 have no EBS encryption at all) or are listed
  by AWS as previous generation (c3, cr1, g2, i2, m3, r3), and are refused either way;
- it is **EBS-optimized by default** (``ebs_optimized_by_default``), so the instance's ``EbsOptimized: true``
  is valid and costs nothing.  AWS lists the types "EBS optimized by default" and those where EBS
  optimization is only "supported" (an extra hourly fee) or absent (AWS EC2 User Guide, "Amazon
  EBS-optimized instance types", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ebs-optimized.html);
  the latter are the previous-generation families refused anyway, and t2, which does not support EBS
  optimization at all;
- it runs the AMI's architecture: the product boots the x86_64 Amazon Linux 2023 image, so Graviton
  (arm64) families such as t4g, m6g, c7gn, a1 are refused (``is_x86_64``);
- it belongs to one of the configured families and is no larger than the configured maximum size, which
  keeps the launch form a sensible length (``[products.<name>.options]`` ``instance_families`` and
  ``max_instance_size`` in the catalog settings).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Iterable, Mapping

from generator import toolinfo

# Previous-generation families without EBS encryption (AWS EC2 user guide, "Supported instance types").
NO_EBS_ENCRYPTION = frozenset({"t1", "m1", "m2", "c1", "cc1", "cc2", "cg1", "hi1", "hs1"})
# Previous-generation families that support EBS encryption but which the catalog still refuses.
PREVIOUS_GENERATION = NO_EBS_ENCRYPTION | frozenset({"c3", "cr1", "g2", "i2", "m3", "r3"})

# Current-generation families that are not EBS-optimized by default (t2 does not support EBS optimization;
# AWS EC2 User Guide, "Amazon EBS-optimized instance types": t2 is in neither of its tables).
NOT_EBS_OPTIMIZED = PREVIOUS_GENERATION | frozenset({"t2"})

SMALL_SIZES = ("nano", "micro", "small", "medium", "large")
_FAMILY = re.compile(r"^(?P<series>[a-z]+)(?P<generation>\d+)(?P<attributes>[a-z]*)(?P<suffix>-[a-z0-9]+)?$")
_XLARGE = re.compile(r"^(?P<n>\d*)xlarge$")

DATA_PACKAGE = "cfnlint.data.schemas.extensions.aws_ec2_instance"
DATA_FILE = "instancetype_enum.json"


@functools.lru_cache(maxsize=1)
def cfn_lint_data() -> dict[str, frozenset[str]]:
    """cfn-lint's InstanceType enum per region: ``{"us-east-1": frozenset({"t3.micro", ...}), ...}``."""
    # the file is read from cfn-lint's folder without importing cfnlint (about a second; generator.toolinfo)
    path = toolinfo.package_dir(DATA_PACKAGE.partition(".")[0]).joinpath(*DATA_PACKAGE.split(".")[1:], DATA_FILE)
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {region: frozenset(body["enum"]) for region, body in raw.items()
            if isinstance(body, Mapping) and isinstance(body.get("enum"), list)}


def family(instance_type: str) -> str:
    """``m6i.large`` -> ``m6i``."""
    return instance_type.partition(".")[0]


def size(instance_type: str) -> str:
    """``m6i.large`` -> ``large``."""
    return instance_type.partition(".")[2]


def size_rank(name: str) -> float | None:
    """Order of a size: nano < micro < small < medium < large < xlarge < 2xlarge < ...; None if unknown."""
    if name in SMALL_SIZES:
        return SMALL_SIZES.index(name)
    m = _XLARGE.match(name)
    if m:
        return len(SMALL_SIZES) - 1 + int(m.group("n") or 1)
    if name.startswith("metal"):
        return float("inf")
    return None


def is_x86_64(family_name: str) -> bool:
    """Whether a family runs x86_64: Graviton families carry a ``g`` attribute (m6g, c7gn, is4gen) or are a1;
    Mac families (some Apple silicon) and names this module cannot parse are refused too."""
    m = _FAMILY.match(family_name)
    if not m or family_name == "a1" or m.group("series") == "mac":
        return False
    return "g" not in m.group("attributes")


def ebs_encryption_eligible(family_name: str) -> bool:
    """The module docstring's rule: current generation, hence EBS encryption."""
    return family_name not in PREVIOUS_GENERATION and _FAMILY.match(family_name) is not None


def ebs_optimized_by_default(family_name: str) -> bool:
    """The module docstring's rule: EBS optimization is on by default (and cannot be turned off)."""
    return ebs_encryption_eligible(family_name) and family_name not in NOT_EBS_OPTIMIZED


def available_everywhere(regions: Iterable[str], data: Mapping[str, frozenset[str]] | None = None) -> frozenset[str]:
    """The types that exist in every one of ``regions`` (a region cfn-lint does not know has none)."""
    data = cfn_lint_data() if data is None else data
    regions = list(regions)
    if not regions:
        return frozenset()
    common = set(data.get(regions[0], ()))
    for region in regions[1:]:
        common &= data.get(region, frozenset())
    return frozenset(common)


def allowed_instance_types(regions: Iterable[str], families: Iterable[str], max_size: str,
                           data: Mapping[str, frozenset[str]] | None = None) -> tuple[str, ...]:
    """The offered types, ordered by the given family order, then by size."""
    order = {f: i for i, f in enumerate(families)}
    limit = size_rank(max_size)
    if limit is None:
        raise ValueError(f"unknown instance size {max_size!r}")
    picked = [t for t in available_everywhere(regions, data)
              if family(t) in order and ebs_optimized_by_default(family(t)) and is_x86_64(family(t))
              and (size_rank(size(t)) is not None and size_rank(size(t)) <= limit)]
    return tuple(sorted(picked, key=lambda t: (order[family(t)], size_rank(size(t)))))
