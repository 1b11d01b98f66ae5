"""KMS for the local endpoint: moto's, with a key's asymmetric private key made when first used.

moto gives every key an RSA or ECC private key when the key is created, a symmetric default key included
(``moto.kms.utils.generate_private_key``), and uses it only to Sign, Verify and GetPublicKey.  An RSA-2048
key costs tens of milliseconds of CPU, and every stack of the catalog creates KMS keys (``AWS::KMS::Key``
in the baseline, the log replica and the web server), so the local endpoint makes that key on first use
instead.  What the API answers is unchanged: the same calls see a key of the same spec.
"""

from __future__ import annotations

import threading
from typing import Any


class _DeferredPrivateKey:
    """Stands for moto's private key of ``key_spec``; makes it at the first attribute read."""

    def __init__(self, key_spec: str) -> None:
        self._key_spec = key_spec
        self._key: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        from moto.kms.utils import generate_private_key

        with self._lock:
            if self._key is None:
                self._key = generate_private_key(self._key_spec)
        return getattr(self._key, name)


def register() -> None:
    import moto.kms.models as kms_models

    kms_models.generate_private_key = _DeferredPrivateKey  # type: ignore[assignment]
