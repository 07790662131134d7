"""Python client for scim-authz's /v1 API: checks that fail closed, lookups, user sync, role
assignments and relationships, with read-your-writes and an optional local decision cache."""
from __future__ import annotations

from scim_authz_client.async_client import AsyncClient
from scim_authz_client.authzen import Evaluation
from scim_authz_client.cache import DecisionCache
from scim_authz_client.client import Client
from scim_authz_client.errors import (
    AuthenticationError,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    ScimAuthzError,
    ServerError,
    ServerUnavailable,
)
from scim_authz_client.results import (
    Assignment,
    BulkSyncItem,
    BulkSyncResult,
    CheckResult,
    Permissions,
    RoleGrant,
    SyncResult,
    WriteResult,
)

__version__ = "0.1.0"
__all__ = [
    "AsyncClient", "Client", "DecisionCache",
    "ScimAuthzError", "AuthenticationError", "PermissionDenied", "NotFound", "Conflict", "InvalidRequest",
    "RateLimited", "ServerUnavailable", "ServerError",
    "CheckResult", "Permissions", "RoleGrant", "SyncResult", "BulkSyncResult", "BulkSyncItem", "Assignment",
    "WriteResult", "Evaluation",
]
