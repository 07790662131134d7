"""The decision point: check, explain, permissions, lookups, over every tenant's in-memory policy.

`check` allows when an effective role grants `resource_type:action` (its condition holding) or
when the schema's permission (or relation) named `action` holds for that resource. Any error
while deciding is a denial that says why.
"""
from __future__ import annotations

import functools
import gc
import json
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scim_authz.authz import grants as grants_mod
from scim_authz.authz import lookup_walks as walks
from scim_authz.authz.condition_env import holds_factory, resource_env, user_env
from scim_authz.authz.conditions import ConditionEvalError, compile_condition
from scim_authz.authz.evaluate import Evaluator
from scim_authz.authz.lookup_walks import role_grants as _grants
from scim_authz.authz.model import Decision, DepthExceeded, StaleRevision, UnknownSchemaVersion
from scim_authz.authz.store import Reader, TenantStore

log = logging.getLogger("scim_authz.authz")
# The hot path's way to make a Decision: a NamedTuple's own constructor is a Python function that
# costs more than twice as much (about 220 ns against 90).
_make = tuple.__new__
# Every check of a disabled tenant (Tenant.disabled_at set) is denied, whatever its policy says.
TENANT_DISABLED = "denied: tenant disabled"


class Engine:
    """Holds every tenant's store, keeps it at the newest revision, and answers questions."""

    def __init__(self, reader: Reader, *, max_depth: int = 32, full_reload_after: int = 50_000,
                 revision_poll_seconds: float = 0.0, signal=None, feed=None, retry_seconds: float = 1.0):
        """How a check learns that a tenant changed, cheapest first:

        `feed`: a `newest(tenant_id)` answering the newest committed revision heard, or None when it
        is not listening (scim_authz/pdp/revision_feed.py, PostgreSQL's notifications);
        `signal`: a `token()` that changes whenever any change is committed (scim_authz/pdp/
        revision_signal.py, SQLite's shared file): the revision is read again only when it moved;
        neither: the revision is read every `revision_poll_seconds` (0: on every check).

        When the revision cannot be read (the database is down) a tenant already in memory is
        served as it is, and named in `unconfirmed` until a read succeeds again; reads are tried
        again every `retry_seconds`, not on every check."""
        self.reader = reader
        self.signal = signal
        self.feed = feed
        self.observer = None  # catch-ups and reloads are reported to it (scim_authz/ops/metrics.py)
        self.loaded = False  # every tenant loaded (load_all ran)
        self.unconfirmed: set[int] = set()
        self.retry_seconds = retry_seconds
        self._read_failed_at = -1e9
        self._seen: dict[int, bytes] = {}  # tenant -> the signal's token when its revision was last read
        self.max_depth = max_depth
        self.full_reload_after = full_reload_after
        self.revision_poll_seconds = revision_poll_seconds
        self.stores: dict[int, TenantStore] = {}
        self._polled: dict[int, float] = {}
        self._lock = threading.Lock()
        self._schemas: dict[tuple[int, int], Any] = {}

    # ---- keeping up with the store ---------------------------------------------------------

    def load_all(self) -> int:
        """Load every tenant now (at start-up), so no check pays for a build; returns tenants loaded.
        The cyclic garbage collector is paused throughout: millions of new containers (none in a
        cycle) would have it walk them all again and again (at a million users, 33 s against 54)."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            ids = self.reader.tenant_ids()
            # The next tenant's rows are read on a second thread while this one's store is built:
            # the database's time (on another core) hides behind the building.
            with ThreadPoolExecutor(1, thread_name_prefix="scim-authz-load") as pool:
                ahead = pool.submit(self.reader.snapshot, ids[0]) if ids else None
                for i, tid in enumerate(ids):
                    snap = ahead.result()
                    ahead = pool.submit(self.reader.snapshot, ids[i + 1]) if i + 1 < len(ids) else None
                    st = TenantStore(snap, compile_condition)
                    grants_mod.warm(st)
                    self.stores[tid] = st
        finally:
            if was_enabled:
                gc.enable()
        self.loaded = True
        return len(self.stores)

    def store(self, tenant_id: int, at_least: int | None = None) -> TenantStore:
        """The tenant's store, caught up with the database (and at least at revision `at_least`)."""
        st = self.stores.get(tenant_id)
        if st is None:
            with self._lock:
                st = self.stores.get(tenant_id)
                if st is None:
                    st = TenantStore(self.reader.snapshot(tenant_id), compile_condition)
                    self.stores[tenant_id] = st
                    self._polled[tenant_id] = time.monotonic()
        feed = self.feed
        if feed is not None:
            heard = feed.newest(tenant_id)
            if heard is not None and (at_least is None or at_least <= heard or at_least <= st.revision):
                if heard > st.revision:
                    st = self._catch_up(st, heard)
                if self.unconfirmed:
                    self.unconfirmed.discard(tenant_id)
                return self._at_least(st, at_least)
            return self._at_least(self._read_revision(st, at_least), at_least)
        signal = self.signal
        if signal is not None:
            token = signal.token()  # (before the revision: a change announced after it is read again)
            due = token != self._seen.get(tenant_id)
        else:
            now = time.monotonic()
            due = now - self._polled.get(tenant_id, 0.0) >= self.revision_poll_seconds
        if due or (at_least is not None and at_least > st.revision):
            if signal is None:
                self._polled[tenant_id] = now
            st = self._read_revision(st, at_least)
            if signal is not None and tenant_id not in self.unconfirmed:
                self._seen[tenant_id] = token
        return self._at_least(st, at_least)

    @staticmethod
    def _at_least(st: TenantStore, at_least: int | None) -> TenantStore:
        if at_least is not None and st.revision < at_least:
            raise StaleRevision(f"revision {at_least} is not known yet (newest is {st.revision})")
        return st

    def _read_revision(self, st: TenantStore, at_least: int | None) -> TenantStore:
        """Read the tenant's revision and catch up to it. When the database cannot be reached, the
        store is served as it is (named in `unconfirmed`), unless `at_least` asks for more."""
        tid = st.tenant_id
        if tid in self.unconfirmed and at_least is None and \
                time.monotonic() - self._read_failed_at < self.retry_seconds:
            return st  # the database was just found down: do not wait on it again per check
        wait = getattr(self.reader, "wait_for", None)  # a reader that is sent revisions (a decision point's)
        if wait is not None and at_least is not None and at_least > st.revision:
            wait(tid, at_least)
        try:
            newest = self.reader.revision(tid)
        except Exception as e:
            if at_least is not None and at_least > st.revision:
                raise
            self._read_failed_at = time.monotonic()
            if tid not in self.unconfirmed:
                log.warning("tenant %s served from memory at revision %s: its revision cannot be read: %s",
                            tid, st.revision, e)
                self.unconfirmed.add(tid)
            return st
        if self.unconfirmed:
            self.unconfirmed.discard(tid)
        if newest > st.revision:
            st = self._catch_up(st, newest)
        return st

    def newest_known(self, tenant_id: int) -> int | None:
        """The newest revision of the tenant this instance knows of without reading the database."""
        heard = self.feed.newest(tenant_id) if self.feed is not None else None
        st = self.stores.get(tenant_id)
        held = st.revision if st is not None else None
        return max(heard, held) if heard is not None and held is not None else (heard if held is None else held)

    def catch_up(self, tenant_id: int, newest: int) -> TenantStore:
        """Bring a held tenant to revision `newest` now, from the reader's changes (a decision point's
        syncer, as each revision arrives: scim_authz/dataplane/sync.py)."""
        st = self.stores[tenant_id]
        return self._catch_up(st, newest) if newest > st.revision else st

    def _catch_up(self, st: TenantStore, newest: int) -> TenantStore:
        with st.lock:
            if st.revision >= newest:
                return st
            held = st.revision
            changes = self.reader.changes_since(st.tenant_id, st.revision, self.full_reload_after)
            # Revisions are consecutive; a gap means the log was pruned past us: start afresh.
            gap = not changes or changes[0][0] != st.revision + 1
            if gap or len(changes) >= self.full_reload_after:
                fresh = TenantStore(self.reader.snapshot(st.tenant_id), compile_condition)
                self.stores[st.tenant_id] = fresh
                if self.observer is not None:
                    self.observer.reloaded(st.tenant_id)
                return fresh
            st.apply(changes, self.reader)
            if self.observer is not None:
                self.observer.caught_up(st.tenant_id, st.revision - held)
            return st

    def schema_for(self, st: TenantStore, version: int | None):
        """The compiled schema in force, or the one asked for."""
        if version is None or version == st.schema_version:
            return st.schema
        key = (st.tenant_id, version)
        if key not in self._schemas:
            found = self.reader.schema(st.tenant_id, version)
            if found is None:
                raise UnknownSchemaVersion(f"schema version {version} does not exist")
            self._schemas[key] = found[1]
        return self._schemas[key]

    # ---- users --------------------------------------------------------------------------

    @staticmethod
    def resolve_user(st: TenantStore, user: str) -> str | None:
        """A user id from an id or a userName (case-insensitively)."""
        if user in st.users:
            return user
        return st.by_name.get(user.lower())

    # ---- check ---------------------------------------------------------------------------

    def check(self, tenant_id: int, user: str, action: str, rtype: str, rid: str, *,
              resource_attrs: Mapping | None = None, context: Mapping | None = None,
              claims: Mapping | None = None, at_least: int | None = None,
              schema_version: int | None = None, explain: bool = False,
              store: TenantStore | None = None) -> Decision:
        """May `user` do `action` on rtype:rid? Never raises: an error is a denial with its reason.

        `store` is a store the caller has just brought up to date (a bulk check reads the
        revision once, not once per item)."""
        revision = 0
        try:
            fresh = (store is not None and store.tenant_id == tenant_id
                     and (at_least is None or store.revision >= at_least))
            st = store if fresh else self.store(tenant_id, at_least)
            revision = st.revision
            if st.disabled:
                return Decision(False, TENANT_DISABLED, revision)
            return self._check(st, user, action, rtype, rid, resource_attrs, context, claims,
                               schema_version, explain)
        except Exception as e:  # noqa: BLE001 - fail closed, and say why
            log.warning("check denied by error: tenant=%s user=%s %s %s:%s: %s", tenant_id, user, action,
                        rtype, rid, e, exc_info=not isinstance(e, (StaleRevision, UnknownSchemaVersion)))
            known = self.stores.get(tenant_id)
            return Decision(False, f"denied: error while deciding: {e}", revision or (known.revision if known else 0))

    def _check(self, st, user, action, rtype, rid, resource_attrs, context, claims, schema_version, explain,
               user_id: str | None = None) -> Decision:
        # A user named by id whose grants are at hand costs one look-up (the grants cache holds
        # users only, and loses a user's entry whenever the user changes or goes).
        uid = user_id or user
        h = st.grants_cache.get(uid)  # (mask, index, UserGrants, slow, bit, reason, ...): grants._hot
        if h is None:
            if uid not in st.users:
                uid = st.by_name.get(user.lower())
                if uid is None:
                    return Decision(False, f"denied: no user {user!r} in this tenant", st.revision)
            h = grants_mod.hot_of(st, uid)
        if uid in st.inactive:
            return Decision(False, f"denied: user {st.users[uid].user_name} is deactivated", st.revision, (), uid)
        perm = rtype + ":" + action
        mask = h[0]
        if mask:  # (grants.granting, through the tenant's PermIndex: this is the hot path)
            idx = h[1]  # (PermIndex.granting, inlined)
            hit = idx.bits.get(perm, 0)
            if idx.wild or idx.star:
                hit |= idx.wild.get(rtype, 0) | idx.star
            hit &= mask
            if hit:  # the first of the user's roles that grants it (mask is the OR of their bits)
                k = 4
                while not hit & h[k]:
                    k += 2
                if explain:
                    return Decision(True, _explained(st, uid, h[2], h[k + 1]), st.revision, (), uid)
                return _make(Decision, (True, h[k + 1], st.revision, (), uid))
        schema = self.schema_for(st, schema_version)
        entity = schema.entities.get(rtype) if schema is not None else None
        rule = entity is not None and (action in entity.permissions or action in entity.relations)
        if h[3]:  # the user holds conditional or instance roles: its UserGrants has them
            ug = h[2]
            conditional = ug.conditional
            instance = ug.instance.get((rtype, rid), ()) if ug.instance else ()
        else:  # (a denial then does not touch the UserGrants at all)
            ug, conditional, instance = None, (), ()
        if not (conditional or instance or rule):
            return _make(Decision, (False, f"denied: {_no_role(st, uid, explain)} grants {perm}, and the schema has "
                                           f"no rule {rtype}.{action}", st.revision, (), uid))
        if ug is None:
            ug = h[2]

        failures: list[str] = []
        env_cache: list[dict] = []

        def env() -> dict:
            if not env_cache:
                env_cache.append({"user": user_env(self.reader, st, uid, claims),
                                  "resource": resource_env(st, rtype, rid, resource_attrs),
                                  "context": dict(context or {})})
            return env_cache[0]

        unmet: list[str] = []  # roles that grant it but whose condition is false, as an admin can act on

        def holds(role, g) -> bool:
            if role.condition is None:
                return True
            try:
                if role.condition.evaluate(env()):
                    return True
            except ConditionEvalError as e:
                failures.append(f"the condition of role {role.key} could not be evaluated: {e.reason}")
                return False
            unmet.append(f"{grants_mod.describe(g)} requires {role.condition.source}")
            return False

        describe = functools.partial(grants_mod.describe_for, st, uid) if explain else grants_mod.describe
        for role, g in conditional:
            if _grants(role, perm, rtype) and holds(role, g):
                return Decision(True, f"allowed: {describe(g)}, its condition holding", st.revision, (), uid)
        for role, g in instance:
            if _grants(role, perm, rtype) and holds(role, g):
                return Decision(True, f"allowed: {describe(g)}", st.revision, (), uid)
        if rule:
            ev = Evaluator(st, schema, uid, ug, holds, grants_mod.describe, self.max_depth)
            w = ev.has(rtype, rid, action)
            if w is not None:
                return Decision(True, "allowed: " + " → ".join(ev.path(w)), st.revision, tuple(ev.path(w)), uid)
        if unmet:  # "denied: role approver via group Finance (IdP) requires resource.amount <= 1000"
            reason = "denied: " + "; ".join(dict.fromkeys(unmet))
            reason += f", and {rtype}.{action} does not hold for {rtype}:{rid}" if rule else ""
        else:
            reason = f"denied: {_no_role(st, uid, explain)} grants {perm}"
            reason += f", and {rtype}.{action} does not hold for {rtype}:{rid}" if rule else \
                f", and the schema has no rule {rtype}.{action}"
        if failures:
            reason += "; " + "; ".join(dict.fromkeys(failures))
        return Decision(False, reason, st.revision, (), uid)

    # ---- permissions and lookups ---------------------------------------------------------

    def permissions(self, tenant_id: int, user: str, at_least: int | None = None) -> dict | None:
        """A user's effective roles with provenance, and the permissions they grant."""
        st = self.store(tenant_id, at_least)
        uid = self.resolve_user(st, user)
        if uid is None:
            return None
        u = st.users[uid]
        ug = grants_mod.of(st, uid)
        roles = []
        for g in ug.grants:
            role = st.roles.get(g.role)
            if role is None:
                continue
            roles.append({
                "role": g.role, "name": role.name,
                "resource": f"{g.scope[0]}:{g.scope[1]}" if g.scope else None,
                "source": g.source,
                **({"group": {"id": g.via, "displayName": g.via_name}} if g.source == "idp" else
                   {"assigned_by": g.via, "assigned_at": g.since}),
                "condition": role.condition.source if role.condition is not None else None,
                "permissions": sorted(role.permissions),
                "explanation": grants_mod.describe(g),
            })
        return {"user": {"id": uid, "userName": u.user_name, "active": u.active}, "revision": st.revision,
                "role_mode": st.role_mode, "roles": roles,
                "permissions": sorted(grants_mod.tenant_permissions(ug)) if u.active else [],
                "conditional_permissions": sorted({p for r, _ in ug.conditional for p in r.permissions})
                if u.active else []}

    def lookup_resources(self, tenant_id: int, user: str, action: str, rtype: str, *,
                         context: Mapping | None = None, claims: Mapping | None = None,
                         at_least: int | None = None) -> tuple[int, list[str]]:
        """Every rtype id the user may `action`, sorted; the whole answer, cached per revision."""
        st = self.store(tenant_id, at_least)
        uid = self.resolve_user(st, user)
        if uid is None or not st.users[uid].active or st.disabled:
            return st.revision, []
        key = ("resources", uid, action, rtype, _frozen(context), _frozen(claims))
        hit = st.lookup_cache.get(key)
        if hit is not None:
            return st.revision, hit
        ug = grants_mod.of(st, uid)
        perm = f"{rtype}:{action}"
        if grants_mod.granting(ug, perm, rtype + ":*") is not None:
            result = sorted(st.objects_of_type(rtype))
            st.lookup_cache[key] = result
            return st.revision, result
        schema = st.schema
        entity = schema.entities.get(rtype) if schema is not None else None
        candidates: set[str] = {rid for (t, rid) in ug.instance if t == rtype}
        if any(_grants(r, perm, rtype) for r, _ in ug.conditional):
            candidates |= st.objects_of_type(rtype)
        if entity is not None and (action in entity.permissions or action in entity.relations):
            if walks.needs_universe(schema, rtype, action, set()):
                candidates |= st.objects_of_type(rtype)
            else:
                candidates |= walks.reachable(st, uid, ug, rtype)
        allowed = []
        ev_holds = holds_factory(self.reader, st, uid, claims, context, {})
        ev = Evaluator(st, schema, uid, ug, ev_holds, grants_mod.describe, self.max_depth)
        held = st.resources.get(rtype) or {}
        for rid in candidates:
            if rid in held:  # conditions read this one's attributes: decide it on its own
                own = holds_factory(self.reader, st, uid, claims, context, held[rid])
                one = Evaluator(st, schema, uid, ug, own, grants_mod.describe, self.max_depth)
                ok = self._allows_with(st, one, ug, perm, rtype, rid, action, entity, own)
            else:
                ok = self._allows_with(st, ev, ug, perm, rtype, rid, action, entity, ev_holds)
            if ok:
                allowed.append(rid)
        allowed.sort()
        st.lookup_cache[key] = allowed
        return st.revision, allowed

    def _allows_with(self, st, ev, ug, perm, rtype, rid, action, entity, holds) -> bool:
        for role, g in ug.conditional:
            if _grants(role, perm, rtype) and holds(role, g):
                return True
        for role, g in ug.instance.get((rtype, rid), ()):
            if _grants(role, perm, rtype) and holds(role, g):
                return True
        if entity is not None and (action in entity.permissions or action in entity.relations):
            try:
                return ev.has(rtype, rid, action) is not None
            except DepthExceeded:
                ev.reset()  # as a check would: too deep is a denial
                return False
        return False

    def lookup_subjects(self, tenant_id: int, action: str, rtype: str, rid: str, *,
                        context: Mapping | None = None, resource_attrs: Mapping | None = None,
                        at_least: int | None = None) -> tuple[int, list[str]]:
        """Every active user id that may `action` on rtype:rid (whose attributes conditions read as
        `resource.*`), sorted."""
        st = self.store(tenant_id, at_least)
        if st.disabled:
            return st.revision, []
        key = ("subjects", action, rtype, rid, _frozen(context), _frozen(resource_attrs))
        hit = st.lookup_cache.get(key)
        if hit is not None:
            return st.revision, hit
        perm = f"{rtype}:{action}"
        schema = st.schema
        entity = schema.entities.get(rtype) if schema is not None else None
        if entity is not None and (action in entity.permissions or action in entity.relations) and \
                walks.needs_universe(schema, rtype, action, set()):
            candidates = set(st.users)
        else:
            candidates = walks.role_holders(st, perm, rtype, rid)
            if entity is not None:
                candidates |= walks.forward_users(st, rtype, rid)
        allowed = []
        for uid in candidates:
            u = st.users.get(uid)
            if u is None or not u.active:
                continue
            d = self._check(st, uid, action, rtype, rid, resource_attrs, context, None, None, False, user_id=uid)
            if d.allowed:
                allowed.append(uid)
        allowed.sort()
        st.lookup_cache[key] = allowed
        return st.revision, allowed


def _frozen(value) -> str:
    """A cache key part for a context or claims mapping (conditions may read them)."""
    return json.dumps(value, sort_keys=True, default=str) if value else ""


def _explained(st: TenantStore, uid: str, ug, reason: str) -> str:
    """An allow's reason with the chain of nested groups it comes through (see grants.describe_for)."""
    if "via group" not in reason:
        return reason
    for g in ug.grants:
        if reason == "allowed: " + grants_mod.describe(g):
            return "allowed: " + grants_mod.describe_for(st, uid, g)
    return reason


def _no_role(st: TenantStore, uid: str, explain: bool) -> str:
    """The subject of a denial. The decision log has the user beside the reason, so a check that
    was not asked to explain leaves the name out: looking it up costs a denial at 100,000 users
    more than the rest of the check."""
    return f"no role of {st.users[uid].user_name}" if explain else "no role"
