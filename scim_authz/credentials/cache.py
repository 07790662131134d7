"""Bearer credentials checked once and then trusted from memory, for every protocol.

A validated secret is cached (by its digest) with the tenant's credentials epoch, which advances
whenever a credential of the tenant is issued or revoked, or the tenant disabled, anywhere (the
change log says so), so a revoked secret, or a disabled tenant's, stops working at the next request
after the change reaches this instance.
"""
from __future__ import annotations

import time

from flask import current_app, g
from sqlalchemy.exc import OperationalError

from scim_authz import pdp
from scim_authz.credentials import keys as auth
from scim_authz.db.extensions import db

# Even when nothing changes, a secret is checked against the database again after this long
# (which also keeps last_used roughly right).
TRUST_SECONDS = 60.0
CACHE_KEY = "scim_authz.credentials"


def authenticate(header: str | None, kind: str, *, policy: bool = True) -> auth.Caller:
    """The caller behind `Authorization: Bearer …` for a credential of `kind`; InvalidCredential
    otherwise. With `policy`, sets `g.store`: the tenant's policy, brought up to date by this very
    look-up. Without it (SCIM, which reads no policy), a process only asks PostgreSQL's revision
    feed, or on SQLite the file signal, whether a credential changed, and catches nothing up."""
    token = auth.bearer_token(header)
    digest = auth.hash_secret(token)
    app = current_app._get_current_object()  # once: each use of the proxy costs a look-up
    cache = app.extensions.setdefault(CACHE_KEY, {})
    eng = pdp.engine(app)
    now = time.monotonic()
    hit = cache.get((kind, digest))
    st = None
    if hit is not None:
        caller, epoch, expires = hit
        current, st = _epoch(eng, caller.tenant_id, policy)
        if current == epoch and now < expires:
            if st is not None:
                g.store = st
            return caller
    heard_before = _credential_changes(eng) if not policy else None
    try:
        tenant, cred = auth.authenticate(header, kind)
    except auth.InvalidCredential:
        cache.pop((kind, digest), None)
        raise
    except OperationalError:
        # The database is out of reach: a secret this instance verified, and which no revocation
        # it has heard of touched since, stays trusted while its tenant is served from memory
        # (a revocation needs the database too). Anything else waits for the database.
        if hit is not None and st is not None and epoch == ("store", st.credentials_epoch) \
                and caller.tenant_id in eng.unconfirmed:
            g.store = st
            return caller
        raise
    label = f"key {cred.prefix}… ({cred.name})" if cred.name else f"key {cred.prefix}…"
    caller = auth.Caller(tenant.id, cred.id, label, tenant.key,
                         log_writes=bool((tenant.settings or {}).get("log_directory_writes")))
    stale = auth.last_used_is_stale(cred)
    # End the read transaction this look-up began, so the request's own transaction starts
    # fresh (on SQLite, as a write from its first statement when the request writes).
    db.session.rollback()
    if stale:
        auth.touch_last_used_now(caller.credential_id)
    mark = _heard_mark(eng, caller.tenant_id) if heard_before is not None else None
    if mark is not None and _credential_changes(eng) == heard_before:
        # No credential change was heard while the secret was looked up: the look-up saw every
        # change up to `mark`, so the secret stands until a newer one is heard.
        epoch = ("heard", mark)
    else:
        st = eng.store(caller.tenant_id)
        epoch = ("store", st.credentials_epoch)
        g.store = st
    cache[(kind, digest)] = (caller, epoch, now + TRUST_SECONDS)
    return caller


def _heard_mark(eng, tenant_id: int):
    """What says no credential of the tenant changed since: on PostgreSQL the newest revision this
    process heard that changed one (None while its feed is down); on SQLite the credentials word
    of the file signal, which every process rewrites after committing such a change; else None."""
    if eng.feed is not None:
        return eng.feed.credentials_changed(tenant_id)
    return eng.signal.credentials_token() if eng.signal is not None else None


def _credential_changes(eng):
    """What moves whenever a credential of any tenant changes (None: nothing says so)."""
    if eng.feed is not None:
        return eng.feed.credential_changes
    return eng.signal.credentials_token() if eng.signal is not None else None


def _epoch(eng, tenant_id: int, policy: bool):
    """(what says the tenant's credentials are as they were, the tenant's store or None)."""
    if not policy:
        mark = _heard_mark(eng, tenant_id)
        if mark is not None:
            return ("heard", mark), None
    st = eng.store(tenant_id)
    return ("store", st.credentials_epoch), st
