"""The change log as the engine reads it: the kinds of change, and how each one's ref names what it
touched. This is the engine's contract with storage: whoever writes the log (scim_authz/pdp/changes.py
and the services that call it) uses these names, and TenantStore.apply reads them back."""
from __future__ import annotations

USER = "user"              # ref: the user's id
MEMBER = "member"          # ref: member_ref(group id, member id); the membership was added or removed
MEMBERS = "members"        # ref: a group id whose members were replaced wholesale
GROUP = "group"            # ref: the group's id
ROLE = "role"              # ref: the role's key
ASSIGNMENT = "assignment"  # ref: the user id whose app-managed assignments changed
MAPPING = "mapping"        # ref: the group id whose group -> role mappings changed
SCHEMA = "schema"          # ref: the new schema version
RELATIONSHIP = "relationship"  # ref: relationship_ref(the relationship's six parts)
TENANT = "tenant"          # ref: the tenant id; role mode or settings changed
CREDENTIAL = "credential"  # ref: the credential id; issued or revoked
RESOURCE = "resource"      # ref: object_ref(type, id); the resource's held attributes were written or deleted

KINDS = frozenset({USER, MEMBER, MEMBERS, GROUP, ROLE, ASSIGNMENT, MAPPING, SCHEMA, RELATIONSHIP, TENANT,
                   CREDENTIAL, RESOURCE})

_RELATIONSHIP_SEP = "\x1f"  # a byte no part of a relationship can hold


def member_ref(group_id: str, member_id: str) -> str:
    """The ref of a MEMBER change."""
    return f"{group_id} {member_id}"


def parse_member_ref(ref: str) -> tuple[str, str]:
    """(group id, member id) from a MEMBER change's ref."""
    group_id, _, member_id = ref.partition(" ")
    return group_id, member_id


def relationship_ref(t: tuple) -> str:
    """The ref of a RELATIONSHIP change: (resource type, id, relation, subject type, id, subject relation)."""
    return _RELATIONSHIP_SEP.join(t)


def parse_relationship_ref(ref: str) -> tuple[str, ...]:
    """The six parts of a relationship from a RELATIONSHIP change's ref."""
    return tuple(ref.split(_RELATIONSHIP_SEP))


def object_ref(rtype: str, rid: str) -> str:
    """The ref of a RESOURCE change."""
    return rtype + _RELATIONSHIP_SEP + rid


def parse_object_ref(ref: str) -> tuple[str, str]:
    """(type, id) from a RESOURCE change's ref."""
    rtype, _, rid = ref.partition(_RELATIONSHIP_SEP)
    return rtype, rid
