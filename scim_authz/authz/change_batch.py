"""The rows a batch of changes names, read together: one query for every user a catch-up must
re-read, one for every membership and one for every resource's held attributes, instead of one
per change.

Under concurrent writes a process catching up applies several changes at once (each a user created
or a member added by another process); on PostgreSQL each read is a round trip, so reading them one
by one cost a write request more than its own statements did.
"""
from __future__ import annotations

from scim_authz.authz import changes as ch
from scim_authz.authz.model import UserInfo

CHUNK = 500  # ids per query: well under every driver's limit on bound parameters


class PrefetchedReader:
    """A Reader that answers `user` and `membership` for the ids it was given from rows read up
    front; everything else goes to the reader it wraps."""

    def __init__(self, reader, users: dict[str, UserInfo], user_ids: set[str],
                 memberships: dict[tuple[str, str], str], member_pairs: set[tuple[str, str]],
                 resources: dict[tuple[str, str], dict] | None = None,
                 resource_keys: set[tuple[str, str]] = frozenset()):
        self._reader = reader
        self._users, self._user_ids = users, user_ids
        self._memberships, self._member_pairs = memberships, member_pairs
        self._resources, self._resource_keys = resources or {}, resource_keys

    def user(self, tenant_id: int, user_id: str) -> UserInfo | None:
        if user_id in self._user_ids:
            return self._users.get(user_id)
        return self._reader.user(tenant_id, user_id)

    def membership(self, group_id: str, member_id: str) -> str | None:
        if (group_id, member_id) in self._member_pairs:
            return self._memberships.get((group_id, member_id))
        return self._reader.membership(group_id, member_id)

    def resource_attributes(self, tenant_id: int, rtype: str, rid: str) -> dict | None:
        if (rtype, rid) in self._resource_keys:
            return self._resources.get((rtype, rid))
        return self._reader.resource_attributes(tenant_id, rtype, rid)

    def __getattr__(self, name):
        return getattr(self._reader, name)


def prefetch(reader, tenant_id: int, changes: list[tuple[int, str, str]], after: int):
    """`reader`, or one answering the users and memberships that `changes` after revision `after`
    name from two batch reads, when the reader can read in batches and there is more than one."""
    if not hasattr(reader, "users") or not hasattr(reader, "memberships"):
        return reader
    user_ids: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    keys: set[tuple[str, str]] = set()
    for revision, kind, ref in changes:
        if revision <= after:
            continue
        if kind == ch.USER:
            user_ids.add(ref)
        elif kind == ch.MEMBER:
            pairs.add(ch.parse_member_ref(ref))
        elif kind == ch.RESOURCE:
            keys.add(ch.parse_object_ref(ref))
    if not hasattr(reader, "resources_held"):
        keys = set()
    if len(user_ids) + len(pairs) + len(keys) < 2:
        return reader
    users: dict[str, UserInfo] = {}
    ids = sorted(user_ids)
    for i in range(0, len(ids), CHUNK):
        users.update(reader.users(tenant_id, ids[i:i + CHUNK]))
    memberships: dict[tuple[str, str], str] = {}
    ordered = sorted(pairs)
    for i in range(0, len(ordered), CHUNK):
        memberships.update(reader.memberships(ordered[i:i + CHUNK]))
    resources: dict[tuple[str, str], dict] = {}
    wanted = sorted(keys)
    for i in range(0, len(wanted), CHUNK):
        resources.update(reader.resources_held(tenant_id, wanted[i:i + CHUNK]))
    return PrefetchedReader(reader, users, user_ids, memberships, pairs, resources, keys)
