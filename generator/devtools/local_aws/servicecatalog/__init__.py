"""Service Catalog for the local endpoint: moto's backend extended with the operations it lacks.

``register()`` makes moto's server dispatch Service Catalog requests to this backend.
"""

from __future__ import annotations


def register() -> None:
    """Replace moto's servicecatalog backend with ours (moto looks it up as ``moto.servicecatalog.servicecatalog_backends``)."""
    import moto.servicecatalog

    from .models import servicecatalog_backends

    moto.servicecatalog.servicecatalog_backends = servicecatalog_backends
