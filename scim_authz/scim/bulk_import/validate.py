"""Documents checked and made canonical exactly as POST /Users and POST /Groups make them: the SCIM
schema's `normalise` (RFC 7643: names in schema casing, read-only attributes dropped, types
checked, `userName` required), then the directory's own column limits.

This is the import's one use of the SCIM edge, and only of its pure, Flask-free modules (schemas,
normalisation, errors): an import must store byte for byte the document a POST would, so it takes
the same code rather than a copy that could drift.
"""
from __future__ import annotations

from scim_authz.directory.errors import ValueTooLong
from scim_authz.directory.service import group_columns, user_columns
from scim_authz.scim.bulk_import.errors import RowError
from scim_authz.scim.errors import SCIMError
from scim_authz.scim.resource import normalise
from scim_authz.scim.schema_defs import GROUP, GROUP_SCHEMA, USER_SCHEMA


def user_document(body) -> tuple[dict, dict]:
    """(canonical document, its indexed columns) of a User body, or RowError."""
    try:
        doc = normalise(USER_SCHEMA, body, members=[])
        return doc, user_columns(doc)
    except (SCIMError, ValueTooLong) as e:
        raise RowError(_reason(e)) from e


def group_document(body) -> tuple[dict, dict, list[dict]]:
    """(canonical document, its indexed columns, its members as given) of a Group body, or RowError."""
    members: list[dict] = []
    try:
        doc = normalise(GROUP_SCHEMA, body, members=members)
        return doc, group_columns(doc), members
    except (SCIMError, ValueTooLong) as e:
        raise RowError(_reason(e)) from e


def group_named(name: str) -> tuple[dict, dict]:
    """The document and columns of a group created by its name alone (POST {"displayName": name})."""
    doc, columns, _ = group_document({"displayName": name})
    return doc, columns


def is_group(body) -> bool:
    """Whether a document of a mixed list is a Group: its `schemas` name the core Group schema, or
    its `meta.resourceType` says so."""
    if not isinstance(body, dict):
        return False
    schemas = body.get("schemas")
    if isinstance(schemas, list) and any(isinstance(s, str) and s.lower() == GROUP.lower() for s in schemas):
        return True
    meta = body.get("meta")
    return isinstance(meta, dict) and meta.get("resourceType") == "Group"


def _reason(e: Exception) -> str:
    return getattr(e, "detail", None) or str(e)
