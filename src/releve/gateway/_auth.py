"""Client authentication: API keys from `clients`, compared as SHA-256 digests.

Keys are hashed once at start-up (or given hashed as `key_sha256`), so the
configuration in memory holds no usable secret; each request hashes the key
it presents and compares digests with `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

from releve.config import ClientConfig
from releve.errors import Unauthorized

__all__ = ["ClientAuth", "hash_key"]

_BEARER = b"bearer "


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ClientAuth:
    def __init__(self, clients: Mapping[str, ClientConfig], *, required: bool = True) -> None:
        self.required = required
        self._clients = tuple(
            (hash_key(client.key) if client.key is not None else bytes.fromhex(client.key_sha256 or ""), name)
            for name, client in clients.items()
        )

    def authenticate(self, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        """The client's name, or None when authentication is off; raises Unauthorized."""
        if not self.required:
            return None
        presented = None
        for name, value in headers:
            if name == b"authorization":
                if value[:7].lower() == _BEARER:
                    presented = value[7:].strip()
                break
            if name == b"x-api-key":
                presented = value.strip()
                break
        if not presented:
            raise Unauthorized("Missing API key: send it as 'Authorization: Bearer <key>'.")
        digest = hashlib.sha256(presented).digest()
        # Every stored digest is compared, in constant time, with no early exit.
        client = None
        for stored, client_name in self._clients:
            if hmac.compare_digest(stored, digest):
                client = client_name
        if client is None:
            raise Unauthorized("Invalid API key.")
        return client
