"""Operator keys: the bearer secrets of the admin API (/admin/api), held by whoever runs the service
rather than by a tenant, so they reach every tenant.

They are not rows of `credentials` (whose tenant_id is required: a key of no tenant would need a
migration) but entries of the ADMIN_API_KEYS setting, `name:sha256-hex` comma-separated, made by
`scim-authz admin-keys generate NAME`. The setting holds only digests, so a leaked environment
gives no key away; the secret (`adm_…`, the "admin" kind's prefix) is printed once. Taking a key
away is removing its entry and restarting, as for any setting: the operator, who holds the
settings, is the one who holds these keys.
"""
from __future__ import annotations

import functools
import hmac
import re
import secrets
from dataclasses import dataclass

from scim_authz.credentials.keys import PREFIXES, InvalidCredential, bearer_token, hash_secret

SETTING = "ADMIN_API_KEYS"
PREFIX = PREFIXES["admin"]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
DIGEST = re.compile(r"^[0-9a-f]{64}$")
REFUSED = "The bearer token is not an operator key of this server (ADMIN_API_KEYS)."


@dataclass(frozen=True)
class OperatorKey:
    """One entry of ADMIN_API_KEYS: the name the change log records, and the secret's sha256."""

    name: str
    digest: str


def generate(name: str, prefix: str = PREFIX) -> tuple[str, str]:
    """A new secret, and the ADMIN_API_KEYS (or PDP_KEYS, with its prefix) entry that admits it (`name:digest`)."""
    if not NAME.match(name or ""):
        raise ValueError("a key's name is 1-64 letters, digits, _ . @ or -, starting with a letter or digit")
    secret = prefix + secrets.token_urlsafe(32)
    return secret, f"{name}:{hash_secret(secret)}"


@functools.lru_cache(maxsize=8)
def parse(value: str | None, setting: str = SETTING, command: str = "admin-keys") -> tuple[OperatorKey, ...]:
    """The keys an ADMIN_API_KEYS value names; ValueError naming the first entry that is not one."""
    keys: list[OperatorKey] = []
    for raw in (value or "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, digest = entry.partition(":")
        digest = digest.strip().lower()
        if not sep or not NAME.match(name.strip()) or not DIGEST.match(digest):
            shown = entry if not sep else f"{name}:…"  # never echo what may be a secret pasted by mistake
            raise ValueError(f"{setting}: {shown!r} is not NAME:SHA256 (64 hex digits); make entries with "
                             f"`scim-authz {command} generate NAME`")
        if any(k.name == name.strip() or k.digest == digest for k in keys):
            raise ValueError(f"{setting}: the key {name.strip()!r} is listed twice")
        keys.append(OperatorKey(name.strip(), digest))
    return tuple(keys)


def verify(authorization: str | None, keys: tuple[OperatorKey, ...], refused: str = REFUSED) -> OperatorKey:
    """The operator key behind `Authorization: Bearer …`, or InvalidCredential. Every entry is
    compared, in constant time, so the answer's timing says nothing of which came close."""
    token = bearer_token(authorization)
    digest = hash_secret(token)
    found = None
    for key in keys:
        if hmac.compare_digest(key.digest, digest):
            found = key
    if found is None:
        raise InvalidCredential(refused)
    return found
