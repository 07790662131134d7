"""Discovery documents (RFC 7644 §4): what this server supports, stated exactly."""
from __future__ import annotations

from scim_authz.scim.schema_defs import RESOURCE_TYPES, SCHEMAS

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
DOCS = "https://github.com/scim-authz/scim-authz/blob/main/docs/scim.md"


def service_provider_config(base_url: str, config) -> dict:
    """RFC 7643 §5: PATCH, bulk, filter, sort and ETags are supported; password change is not
    (passwords are never stored)."""
    return {
        "schemas": [SPC],
        "documentationUri": DOCS,
        "patch": {"supported": True},
        "bulk": {"supported": True, "maxOperations": config["SCIM_BULK_MAX_OPERATIONS"],
                 "maxPayloadSize": config["SCIM_BULK_MAX_PAYLOAD"]},
        "filter": {"supported": True, "maxResults": config["SCIM_FILTER_MAX_RESULTS"]},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": True,
            "description": "A per-tenant SCIM token, sent as Authorization: Bearer <token>.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750", "documentationUri": DOCS,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/ServiceProviderConfig"},
    }


def resource_type(base_url: str, rid: str) -> dict:
    """One ResourceType (RFC 7643 §6)."""
    rt = RESOURCE_TYPES[rid]
    return {"schemas": [RESOURCE_TYPE], **rt,
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/{rid}"}}


def schema(base_url: str, urn: str) -> dict:
    """One Schema (RFC 7643 §7)."""
    s = SCHEMAS[urn]
    return {"schemas": [SCHEMA], **s, "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{urn}"}}


def all_resource_types(base_url: str) -> list[dict]:
    return [resource_type(base_url, rid) for rid in RESOURCE_TYPES]


def all_schemas(base_url: str) -> list[dict]:
    return [schema(base_url, urn) for urn in SCHEMAS]
