"""IdP webhook events applied to a tenant's directory, through the services SCIM and /v1 use: users
are created and updated by syncUser (policy/users.py: a new user gets the tenant's default role),
deactivated, deleted and put in or taken out of groups by the directory service, so every change
advances the tenant's revision and the next check sees it.

Each applied event is remembered (webhook_events: tenant, source, event id) in the same
transaction as its changes, and each change is written to the administrative change log by the
current actor (the webhook's source, set by the view). An event already remembered is a
duplicate: answered, not applied again. Runs inside the request's transaction; no Flask.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, User, WebhookEvent, utcnow
from scim_authz.db.txn import insert_unique
from scim_authz.directory import service as directory
from scim_authz.directory.errors import Conflict as DirectoryConflict
from scim_authz.directory.errors import DirectoryError, ResourceNotFound
from scim_authz.governance import changelog
from scim_authz.pdp.changes import savepoint
from scim_authz.policy import users
from scim_authz.policy.errors import Conflict, InvalidInput, NotFound, PolicyError
from scim_authz.policy.lookup import find_user
from scim_authz.webhooks.events import (
    DEACTIVATE,
    DELETE,
    IGNORE,
    MEMBER_ADD,
    MEMBER_REMOVE,
    SYNC,
    Event,
    IdPGroup,
    IdPUser,
)

log = logging.getLogger("scim_authz.webhooks")

# An event's result (in the answer and the log).
APPLIED, UNCHANGED, DUPLICATE, SKIPPED, IGNORED, FAILED = (
    "applied", "unchanged", "duplicate", "skipped", "ignored", "failed")


def apply(tenant_id: int, source: str, events: list[Event]) -> list[dict]:
    """Apply a delivery's events in order; one result each: {id, event, result, detail?}.

    Each event has a savepoint of its own: one that the directory refuses (a userName taken, a
    value too long) fails alone, is neither applied nor remembered, is logged and answered
    "failed", and the rest stand. (Both IdPs are answered 200 all the same: Okta does not retry a
    4xx, Logto asks for nothing but 200, and a retry would fail alike.) Any other error propagates:
    the request's transaction rolls back whole and the IdP retries its 5xx."""
    results = []
    for ev in events:
        if ev.skip is not None:
            result, detail = SKIPPED, ev.skip
        elif ev.action == IGNORE:
            result, detail = IGNORED, None
        else:
            try:
                with savepoint():
                    result, detail = _one(tenant_id, source, ev)
            except PolicyError as e:
                result, detail = FAILED, e.message
        level = logging.WARNING if result == FAILED else logging.INFO
        log.log(level, "%s event %s (%s) for tenant %s: %s%s", source, ev.id or "-", ev.type, tenant_id, result,
                f": {detail}" if detail else "")
        results.append({"id": ev.id, "event": ev.type, "result": result, **({"detail": detail} if detail else {})})
    return results


def _one(tenant_id: int, source: str, ev: Event) -> tuple[str, str | None]:
    if not remember(tenant_id, source, ev.id):
        return DUPLICATE, None
    with directory_errors():
        return ACTIONS[ev.action](tenant_id, source, ev)


def remember(tenant_id: int, source: str, event_id: str) -> bool:
    """Note that this event is applied; False when it was already (a retry, or a concurrent
    delivery of the same event that committed first)."""
    key = (tenant_id, source, event_id)
    if db.session.get(WebhookEvent, key) is not None:
        return False
    row = WebhookEvent(tenant_id=tenant_id, source=source, event_id=event_id, received=utcnow())
    _, inserted = insert_unique(row, lambda: db.session.get(WebhookEvent, key, populate_existing=True))
    return inserted


@contextmanager
def directory_errors() -> Iterator[None]:
    """Directory errors as the domain's, where the directory is called."""
    try:
        yield
    except DirectoryConflict as e:
        raise Conflict(str(e)) from e
    except ResourceNotFound as e:
        raise NotFound(str(e)) from e
    except DirectoryError as e:  # (a value too long, a membership that cannot be)
        raise InvalidInput(str(e)) from e


# ---- the actions -------------------------------------------------------------------------------

def user_view(u: User) -> dict:
    """A user as the change log keeps it."""
    return {"id": u.id, "userName": u.user_name, "externalId": u.external_id, "displayName": u.display_name,
            "active": u.active}


def find(tenant_id: int, who: IdPUser) -> User | None:
    """The tenant's user an IdP names: by externalId (the IdP's id), else by userName."""
    return find_user(tenant_id, who.external_id) or (find_user(tenant_id, who.user_name) if who.user_name else None)


def _sync(tenant_id: int, source: str, ev: Event) -> tuple[str, str | None]:
    who = ev.user
    existing = find(tenant_id, who)
    before = user_view(existing) if existing is not None else None
    data = {"userName": who.user_name, "externalId": who.external_id, "displayName": who.display_name,
            "email": who.email, "active": ev.active, "attributes": None, "roles": None}
    out, created, _ = users.sync_user(tenant_id, who.external_id, data, f"webhook {source}")
    after = {k: out[k] for k in ("id", "userName", "externalId", "displayName", "active")}
    if created:
        changelog.record(tenant_id, "user.create", after["userName"], after=after)
        return APPLIED, "user.create"
    if after == before:
        return UNCHANGED, None
    action = "user.update"  # (before is None when a concurrent delivery created the user first)
    if before is not None and {k for k in after if after[k] != before[k]} == {"active"}:
        action = "user.activate" if after["active"] else "user.deactivate"
    changelog.record(tenant_id, action, after["userName"], before=before, after=after)
    return APPLIED, action


def _locked(user: User) -> User:
    """The user's row again, locked until the transaction ends (as SCIM's writes take it)."""
    return db.session.get(User, user.id, with_for_update=True, populate_existing=True)


def _deactivate(tenant_id: int, source: str, ev: Event) -> tuple[str, str | None]:
    user = find(tenant_id, ev.user)
    if user is None or (user := _locked(user)) is None:
        return SKIPPED, "no such user in the tenant"
    if not user.active:
        return UNCHANGED, None
    before = user_view(user)
    directory.replace_user(user, {**user.doc, "active": False})
    changelog.record(tenant_id, "user.deactivate", user.user_name, before=before, after=user_view(user))
    return APPLIED, "user.deactivate"


def _delete(tenant_id: int, source: str, ev: Event) -> tuple[str, str | None]:
    user = find(tenant_id, ev.user)
    if user is None or (user := _locked(user)) is None:
        return SKIPPED, "no such user in the tenant"
    before = user_view(user)
    directory.delete_user(user)
    changelog.record(tenant_id, "user.delete", before["userName"], before=before)
    return APPLIED, "user.delete"


def find_group(tenant_id: int, named: IdPGroup) -> Group | None:
    """The tenant's group an IdP names: by externalId, else by displayName (case-insensitively)
    when exactly one group has it. Groups arrive by SCIM (Group Push): a webhook never creates one."""
    name = named.display_name.lower() if named.display_name else None
    for column, value in ((Group.external_id, named.external_id), (Group.display_name_ci, name)):
        if value is None:
            continue
        q = select(Group).where(Group.tenant_id == tenant_id, column == value).limit(2)
        found = db.session.execute(q).scalars().all()
        if len(found) == 1:
            return found[0]
    return None


def _membership(tenant_id: int, source: str, ev: Event) -> tuple[str, str | None]:
    user = find(tenant_id, ev.user)
    if user is None:
        return SKIPPED, "no such user in the tenant"
    group = find_group(tenant_id, ev.group)
    if group is None:
        return SKIPPED, "no such group in the tenant (groups arrive by SCIM Group Push)"
    target = f"{group.display_name} {user.user_name}"
    link = {"group": group.id, "groupName": group.display_name, "user": user.id, "userName": user.user_name}
    if ev.action == MEMBER_ADD:
        if not directory.add_members_and_bump(group, [{"value": user.id}]):
            return UNCHANGED, None
        changelog.record(tenant_id, "member.add", target, after=link)
        return APPLIED, "member.add"
    if not directory.remove_members(group, [user.id], touch=False):
        return UNCHANGED, None
    directory.bump_group_version(group)
    changelog.record(tenant_id, "member.remove", target, before=link)
    return APPLIED, "member.remove"


ACTIONS = {SYNC: _sync, DEACTIVATE: _deactivate, DELETE: _delete, MEMBER_ADD: _membership,
           MEMBER_REMOVE: _membership}
