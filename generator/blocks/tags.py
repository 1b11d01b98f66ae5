"""The tags every taggable resource carries, so administrators can alert and report by owner and data class."""

from __future__ import annotations

from troposphere import Tags

# The launch role changes a resource only when it carries this tag with a product's name
# (generator.blocks.permissions): every taggable product resource gets it from ``standard``.
PRODUCT_TAG = "Product"


def standard(*, name, owner, environment, phi, product: str, version: str, **extra) -> Tags:
    """Name, Owner, Environment, PHI, Product and ProductVersion tags (values may be Refs)."""
    return Tags(Name=name, Owner=owner, Environment=environment, PHI=phi, **{PRODUCT_TAG: product},
                ProductVersion=version, **extra)
