"""The change log: every write that can change a decision advances the tenant's revision and says
what it touched, in the same transaction, so each instance's engine can catch up incrementally.

Advancing a revision locks the tenant's row until the transaction ends: that lock is what keeps
revisions in commit order (an instance that has read revision n has every change up to n), so it
is taken as late as a write allows. SCIM writes `note` what they touched and the revision
advances once, just before the commit, for all of the transaction's changes of that tenant (a
1,000-operation /Bulk is one revision, and other writers of the tenant wait for its commit, not
for its whole run). Writes that answer with the revision they made `record` it at once.

Inside `one_revision()` (a policy file applied whole: scim_authz/policy/as_code/apply.py) `record`
notes instead of advancing, so every change the block makes to a tenant goes in under one revision,
advanced once just before the commit; `record` returns that revision, which the tenant's row,
locked at the block's first record, keeps from moving until then.

On PostgreSQL the statement that advances the revision also calls `pg_notify`, which PostgreSQL
delivers to every listening instance when, and only if, the transaction commits
(scim_authz/pdp/revision_feed.py).

The same statement changes the tenant's user and group counts by what the transaction created and
deleted (`adjust_counts`), so they are exact at every commit and cost no lock or statement of their own.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import delete, event, select, text, update
from sqlalchemy.orm import Session

from scim_authz.authz.changes import KINDS
from scim_authz.db import own_write
from scim_authz.db.driver_path import as_sqlalchemy_error
from scim_authz.db.extensions import db
from scim_authz.db.models import Change, Tenant
from scim_authz.db.prepared import prepared, run_on
from scim_authz.pdp import revision_signal
from scim_authz.pdp.revision_feed import CHANNEL

PENDING = "scim_authz.pending_changes"  # session.info: [(tenant_id, kind, refs)] not yet written
MADE = "scim_authz.revisions_made"  # session.info: {tenant_id: revision} advanced in this transaction
MADE_KINDS = "scim_authz.revision_kinds"  # session.info: {tenant_id: set of the kinds changed}
COMMITTED = "scim_authz.revisions_committed"  # session.info: the same, once committed
ONE = "scim_authz.one_revision"  # session.info, inside one_revision(): {tenant_id: the revision the commit will make}
COUNTS = "scim_authz.directory_counts"  # session.info: {tenant_id: [users, groups]} not yet written
# The revisions the last commit of a write on its own connection (db.own_write) made, until read.
_OWN_COMMITTED: ContextVar[dict | None] = ContextVar("own_committed", default=None)

# The notification says `schema:tenant:revision:kinds` (kinds comma-separated: what changed, so a
# listener can tell, say, a credential revoked from a user added without reading the change log).
_ADVANCE = ("UPDATE tenants SET revision = revision + 1, user_count = user_count + :users, "
            "group_count = group_count + :groups WHERE id = :t RETURNING revision, "
            f"pg_notify('{CHANNEL}', current_schema() || ':' || id || ':' || revision || ':' || :kind_set)")
_ADVANCE_PG = text(_ADVANCE)
_ADVANCE_SQLITE = ("UPDATE tenants SET revision = revision + 1, user_count = user_count + ?, "
                   "group_count = group_count + ? WHERE id = ? RETURNING revision")
_LOG_SQLITE = "INSERT INTO changes (tenant_id, revision, kind, ref) VALUES (?, ?, ?, ?)"
_ADVANCE_AND_LOG_PG = text(
    f"WITH advanced AS ({_ADVANCE}) INSERT INTO changes (tenant_id, revision, kind, ref) "
    "SELECT :t, advanced.revision, c.kind, c.ref FROM advanced, "
    "unnest(CAST(:kinds AS varchar[]), CAST(:refs AS varchar[])) WITH ORDINALITY AS c(kind, ref, n) "
    "ORDER BY c.n RETURNING revision")


def _info() -> dict:
    """What this transaction noted: its own connection's (db.own_write), else the ORM session's."""
    own = own_write.current()
    return own.info if own is not None else db.session.info


def note(tenant_id: int, kind: str, refs: Iterable[str]) -> None:
    """Say that this transaction changed `refs`; the revision advances just before it commits."""
    if kind not in KINDS:
        raise ValueError(f"unknown change kind {kind!r}")
    _info().setdefault(PENDING, []).append((tenant_id, kind, list(refs)))


def adjust_counts(tenant_id: int, *, users: int = 0, groups: int = 0) -> None:
    """Say that this transaction created (positive) or deleted (negative) users or groups of the
    tenant; its counts change by as much when its revision advances (or at the commit). Whoever
    inserts or deletes users or groups without the directory service calls this with the numbers
    of rows, in the same transaction."""
    if users or groups:
        pending = _info().setdefault(COUNTS, {}).setdefault(tenant_id, [0, 0])
        pending[0] += users
        pending[1] += groups


def forget_counts(tenant_id: int) -> None:
    """Drop what `adjust_counts` has noted for the tenant (its counts were just set from its rows)."""
    _info().get(COUNTS, {}).pop(tenant_id, None)


def record(tenant_id: int, kind: str, refs: Iterable[str]) -> int:
    """Advance the tenant's revision now and log what changed (with anything noted before);
    returns the new revision. Inside one_revision(): note it, and return the revision the commit
    will make."""
    note(tenant_id, kind, refs)
    if ONE in db.session.info:
        return _coming(db.session, tenant_id)
    return _write_pending(db.session, tenant_id)[tenant_id]


@contextmanager
def one_revision() -> Iterator[dict[int, int]]:
    """Make every change recorded inside one revision per tenant: `record` notes instead of
    advancing and returns the revision the commit will make. Yields {tenant_id: that revision}.
    The tenant's row is locked at the first record (as an advance would lock it), so no other
    writer can take that number before this transaction commits. Nested, the outer block decides."""
    info = db.session.info
    if ONE in info:
        yield info[ONE]
        return
    coming = info[ONE] = {}
    try:
        yield coming
    finally:
        info.pop(ONE, None)


def _coming(session: Session, tenant_id: int) -> int:
    """Inside one_revision(): the revision this transaction's commit will give the tenant."""
    coming = session.info[ONE]
    if tenant_id not in coming:
        session.flush()
        # A write that changes nothing: it locks the row (PostgreSQL) or takes the write lock
        # (SQLite) until the commit, and reads the revision it holds now (earlier advances of this
        # transaction included).
        now = session.execute(update(Tenant).where(Tenant.id == tenant_id).values(revision=Tenant.revision)
                              .returning(Tenant.revision)).scalar_one()
        coming[tenant_id] = now + 1
    return coming[tenant_id]


def current_revision(tenant_id: int) -> int:
    """The tenant's revision as this transaction sees it, its noted changes included."""
    info = db.session.info
    if ONE in info and (tenant_id in info[ONE] or any(t == tenant_id for t, _, _ in info.get(PENDING, ()))):
        return _coming(db.session, tenant_id)  # noted: advanced once, at the commit
    made = _write_pending(db.session, tenant_id)
    if tenant_id in made:
        return made[tenant_id]
    return db.session.get(Tenant, tenant_id).revision


def committed_revisions(session: Session | None = None) -> dict[int, int]:
    """The revisions the last commit of this session (or, without one, of this unit of work's own
    connection: db.own_write) made, per tenant (read once)."""
    if session is None:
        own = _OWN_COMMITTED.get()
        if own is not None:
            _OWN_COMMITTED.set(None)
            return own
    return (session or db.session).info.pop(COMMITTED, None) or {}


def revision_header(response, tenant_id: int) -> None:
    """Put the revision a committed write made for the tenant in `X-Authz-Revision`, so a client
    can ask any instance for a check `at_least` at it."""
    made = committed_revisions().get(tenant_id)
    if made is not None and response is not None:
        response.headers["X-Authz-Revision"] = str(made)


@contextmanager
def savepoint():
    """A savepoint whose failure also forgets the changes noted or made inside it."""
    session = db.session
    pending = list(session.info.get(PENDING, ()))
    made = dict(session.info.get(MADE, {}))
    kinds = {t: set(k) for t, k in session.info.get(MADE_KINDS, {}).items()}
    counts = {t: list(c) for t, c in session.info.get(COUNTS, {}).items()}
    try:
        with session.begin_nested():
            yield
    except BaseException:
        session.info[PENDING], session.info[MADE], session.info[MADE_KINDS] = pending, made, kinds
        session.info[COUNTS] = counts
        raise


def _write_pending(session: Session, only: int | None = None) -> dict[int, int]:
    """Advance the revision of each tenant with noted changes (or only `only`'s), once each, and
    write the changes and the counts; returns {tenant_id: new revision}."""
    return _write(session.info, session.connection, session.flush, session.execute,
                  lambda tid: _expire_tenant(session, tid), only)


def _write(info: dict, connection, flush, execute, expire, only: int | None = None) -> dict[int, int]:
    """_write_pending on what a transaction noted (`info`), with its connection (`connection()`),
    its way to write what it holds unwritten (`flush`), to run a statement (`execute`), and to
    forget a tenant it has loaded (`expire`)."""
    queue = info.get(PENDING) or []
    counts = info.get(COUNTS) or {}
    if not queue and not counts:
        return {}
    tenants = [only] if only is not None else list(dict.fromkeys([*(t for t, _, _ in queue), *counts]))
    flush()  # the transaction's own rows first: the tenant's row is locked from here to commit
    made = {}
    for tid in tenants:
        mine = [(kind, refs) for t, kind, refs in queue if t == tid]
        deltas = counts.pop(tid, (0, 0))
        if not mine:
            if any(deltas):  # counted without a change noted: the counts alone, no new revision
                execute(update(Tenant).where(Tenant.id == tid).values(
                    user_count=Tenant.user_count + deltas[0], group_count=Tenant.group_count + deltas[1]))
            continue
        # On the transaction's connection, not through the ORM: an ORM UPDATE first works out which
        # loaded objects it changes, ten times the cost of the statement on every write. A Tenant
        # the session has loaded is expired instead, so it reads the new revision and counts.
        conn = connection()
        expire(tid)
        made[tid] = _advance(info, conn, tid, [(kind, ref) for kind, refs in mine for ref in refs], deltas)
    info[PENDING] = [e for e in queue if e[0] not in made]
    info.setdefault(MADE, {}).update(made)
    return made


def _advance(info: dict, conn, tenant_id: int, changed: list[tuple[str, str]], deltas=(0, 0)) -> int:
    """Advance the revision, change the counts by `deltas` (users, groups) and log `changed`
    (kind, ref) under it: on PostgreSQL one round trip, which also notifies every listening
    instance when the transaction commits."""
    kinds = {k for k, _ in changed}
    info.setdefault(MADE_KINDS, {}).setdefault(tenant_id, set()).update(kinds)
    if conn.dialect.name == "postgresql":
        params = {"t": tenant_id, "kind_set": ",".join(sorted(kinds)), "users": deltas[0], "groups": deltas[1]}
        if not changed:
            return run_on(conn, prepared("changes.advance", lambda: _ADVANCE_PG), params).first()[0]
        return run_on(conn, prepared("changes.advance_and_log", lambda: _ADVANCE_AND_LOG_PG), {
            **params, "kinds": [k for k, _ in changed], "refs": [r for _, r in changed]}).first()[0]
    # On SQLite, with the driver's own cursor: two plain statements on the transaction's connection,
    # which SQLAlchemy's execution context would cost more than running.
    # Its errors are SQLAlchemy's, as from any statement (a locked or unwritable database: 503).
    driver = conn.connection.driver_connection
    cursor, statement, params = driver.cursor(), _ADVANCE_SQLITE, None
    try:
        params = (deltas[0], deltas[1], tenant_id)
        revision = cursor.execute(statement, params).fetchone()[0]
        if changed:
            statement, params = _LOG_SQLITE, [(tenant_id, revision, k, r) for k, r in changed]
            cursor.executemany(statement, params)
    except conn.dialect.loaded_dbapi.Error as e:
        raise as_sqlalchemy_error(conn, e, statement, params, driver, cursor) from e
    finally:
        cursor.close()
    return revision


def _expire_tenant(session: Session, tenant_id: int) -> None:
    loaded = session.identity_map.get(session.identity_key(Tenant, tenant_id))
    if loaded is not None:
        session.expire(loaded, ["revision", "user_count", "group_count"])


@event.listens_for(Session, "before_commit")
def _advance_before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the revision advances when the transaction itself commits
    _write_pending(session)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    _OWN_COMMITTED.set(None)  # (what an earlier write on its own connection made is not this one's)
    made = session.info.pop(MADE, None)
    kinds = session.info.pop(MADE_KINDS, None) or {}
    if made:
        session.info[COMMITTED] = made
        revision_signal.committed(session, made, kinds)


def _own_before_commit(write: own_write.OwnWrite) -> None:
    _OWN_COMMITTED.set(None)
    _write(write.info, lambda: write, lambda: None, write.execute, lambda _tid: None)


def _own_after_commit(write: own_write.OwnWrite) -> None:
    made = write.info.pop(MADE, None)
    kinds = write.info.pop(MADE_KINDS, None) or {}
    if made:
        _OWN_COMMITTED.set(made)
        revision_signal.committed_on(write.engine, made, kinds)


own_write.BEFORE_COMMIT.append(_own_before_commit)
own_write.AFTER_COMMIT.append(_own_after_commit)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: savepoint() puts back what it had noted
    session.info.pop(PENDING, None)
    session.info.pop(MADE, None)
    session.info.pop(MADE_KINDS, None)
    session.info.pop(COUNTS, None)


def prune(tenant_id: int | None, keep: int) -> int:
    """Delete all but the newest `keep` revisions' changes (per tenant); returns rows deleted.
    An instance further behind than what is kept reloads its tenant whole."""
    deleted = 0
    tenants = [tenant_id] if tenant_id is not None else list(db.session.execute(select(Tenant.id)).scalars())
    for tid in tenants:
        newest = db.session.get(Tenant, tid).revision
        deleted += db.session.execute(delete(Change).where(
            Change.tenant_id == tid, Change.revision <= newest - keep)).rowcount or 0
    return deleted
