"""Who is acting, for the administrative change log: each edge says it once per request (the API
key of a /v1 call, the signed-in admin of a console request, the IdP token of a SCIM request, the
operating-system user of a CLI command, the source of a webhook), and the services that change
policy read it here instead of taking it as an argument through every layer. No Flask: a plain
context variable, so a CLI command or a test sets it the same way."""
from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    kind: str  # admin | api_key | scim_token | cli | webhook | system
    name: str  # "ann@example.com", "key sk_ab12… (ci)", "okta", "root"
    surface: str  # console | api | scim | cli | webhook | system
    request_id: str | None = None


SYSTEM = Actor("system", "scim-authz", "system")
_current: ContextVar[Actor] = ContextVar("scim_authz_actor", default=SYSTEM)


def current() -> Actor:
    return _current.get()


@contextmanager
def acting(actor: Actor) -> Iterator[Actor]:
    """Changes made inside are recorded as `actor`'s."""
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def cli_actor() -> Actor:
    """The operating-system user running a CLI command."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's)
        who = "unknown"
    return Actor("cli", who, "cli")
