"""The tags every taggable resource carries, so administrators can alert and report by owner and data class."""

from __future__ import annotations

from troposphere import Tags


def standard(*, name, owner, environment, phi, product: str, version: str, **extra) -> Tags:
    """Name, Owner, Environment, PHI, Product and ProductVersion tags (values may be Refs)."""
    return Tags(Name=name, Owner=owner, Environment=environment, PHI=phi, Product=product,
                ProductVersion=version, **extra)
