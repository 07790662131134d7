"""The SCIM schemas this server implements, as RFC 7643 §7 attribute definitions.

Transcribed from RFC 7643 §4 and §8.7.1 (core User, Group, Enterprise User). These definitions
drive validation, case-insensitive attribute names, filter case-exactness, projection and the
/Schemas discovery document, so the server says exactly what it does.
"""
from __future__ import annotations

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def attr(name, type_="string", *, multi=False, required=False, case_exact=False, mutability="readWrite",
         returned="default", uniqueness="none", sub=None, canonical=None, refs=None, description=""):
    """One attribute definition in the shape of RFC 7643 §7."""
    a = {
        "name": name,
        "type": type_,
        "multiValued": multi,
        "description": description or name,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    }
    if sub is not None:
        a["subAttributes"] = sub
    if canonical:
        a["canonicalValues"] = canonical
    if refs:
        a["referenceTypes"] = refs
    return a


def _multi(name, canonical, value_type="string", *, value_refs=None, extra=()):
    """The shape shared by emails, phoneNumbers, ims, photos, entitlements, roles, x509Certificates."""
    value = attr("value", value_type, refs=value_refs) if value_refs else attr("value", value_type)
    return attr(name, "complex", multi=True, sub=[
        value,
        attr("display"),
        attr("type", canonical=canonical),
        attr("primary", "boolean"),
        *extra,
    ])


_NAME = attr("name", "complex", sub=[
    attr("formatted"), attr("familyName"), attr("givenName"), attr("middleName"),
    attr("honorificPrefix"), attr("honorificSuffix"),
])

_ADDRESS = attr("addresses", "complex", multi=True, sub=[
    attr("formatted"), attr("streetAddress"), attr("locality"), attr("region"), attr("postalCode"),
    attr("country"), attr("type", canonical=["work", "home", "other"]), attr("primary", "boolean"),
])

_GROUPS = attr("groups", "complex", multi=True, mutability="readOnly", sub=[
    attr("value", mutability="readOnly"),
    attr("$ref", "reference", mutability="readOnly", refs=["User", "Group"]),
    attr("display", mutability="readOnly"),
    attr("type", mutability="readOnly", canonical=["direct", "indirect"]),
])

USER_ATTRIBUTES = [
    attr("userName", required=True, uniqueness="server"),
    _NAME,
    attr("displayName"), attr("nickName"), attr("profileUrl", "reference", refs=["external"]),
    attr("title"), attr("userType"), attr("preferredLanguage"), attr("locale"), attr("timezone"),
    attr("active", "boolean"),
    attr("password", mutability="writeOnly", returned="never"),
    _multi("emails", ["work", "home", "other"]),
    _multi("phoneNumbers", ["work", "home", "mobile", "fax", "pager", "other"]),
    _multi("ims", ["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
    _multi("photos", ["photo", "thumbnail"], "reference", value_refs=["external"]),
    _ADDRESS,
    _GROUPS,
    _multi("entitlements", None),
    _multi("roles", None),
    _multi("x509Certificates", None, "binary"),
]

ENTERPRISE_ATTRIBUTES = [
    attr("employeeNumber"), attr("costCenter"), attr("organization"), attr("division"), attr("department"),
    attr("manager", "complex", sub=[
        attr("value"),
        attr("$ref", "reference", refs=["User"]),
        attr("displayName", mutability="readOnly"),
    ]),
]

GROUP_ATTRIBUTES = [
    attr("displayName", required=True, uniqueness="server"),
    attr("members", "complex", multi=True, sub=[
        attr("value", mutability="immutable"),
        # RFC 7643 §8.7.1 lists no "display" for members: the IdP's label is not stored, so
        # what a client reads back is exactly what it wrote.
        attr("$ref", "reference", mutability="immutable", refs=["User", "Group"]),
        attr("type", mutability="immutable", canonical=["User", "Group"]),
    ]),
]

# Attributes every resource has (RFC 7643 §3.1), reached by name in filters, sorting and projection.
COMMON_ATTRIBUTES = [
    attr("id", case_exact=True, mutability="readOnly", returned="always", uniqueness="server"),
    attr("externalId", case_exact=True),
    attr("meta", "complex", mutability="readOnly", sub=[
        attr("resourceType", case_exact=True, mutability="readOnly"),
        attr("created", "dateTime", mutability="readOnly"),
        attr("lastModified", "dateTime", mutability="readOnly"),
        attr("location", "reference", mutability="readOnly", refs=["uri"]),
        attr("version", case_exact=True, mutability="readOnly"),
    ]),
]

SCHEMAS = {
    USER: {"id": USER, "name": "User", "description": "User Account", "attributes": USER_ATTRIBUTES},
    GROUP: {"id": GROUP, "name": "Group", "description": "Group", "attributes": GROUP_ATTRIBUTES},
    ENTERPRISE_USER: {"id": ENTERPRISE_USER, "name": "EnterpriseUser", "description": "Enterprise User",
                      "attributes": ENTERPRISE_ATTRIBUTES},
}

RESOURCE_TYPES = {
    "User": {"id": "User", "name": "User", "endpoint": "/Users", "description": "User Account",
             "schema": USER, "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": False}]},
    "Group": {"id": "Group", "name": "Group", "endpoint": "/Groups", "description": "Group",
              "schema": GROUP, "schemaExtensions": []},
}


class ResourceSchema:
    """Case-insensitive look-up of a resource type's attributes, by name, dotted path or URN."""

    def __init__(self, resource_type: str):
        rt = RESOURCE_TYPES[resource_type]
        self.resource_type = resource_type
        self.core = rt["schema"]
        self.extensions = [e["schema"] for e in rt["schemaExtensions"]]
        self.core_attrs = {a["name"].lower(): a for a in SCHEMAS[self.core]["attributes"] + COMMON_ATTRIBUTES}
        self.ext_attrs = {
            urn.lower(): {a["name"].lower(): a for a in SCHEMAS[urn]["attributes"]} for urn in self.extensions
        }
        self.urns = {u.lower(): u for u in [self.core, *self.extensions]}
        self._urns_longest_first = sorted(self.urns.items(), key=lambda kv: -len(kv[0]))

    def split_urn(self, path: str) -> tuple[str | None, str]:
        """Split "urn:...:User:name.givenName" into (canonical schema URN, "name.givenName").

        Returns (None, path) when the path carries no known schema URN; an extension URN alone
        returns (urn, "").
        """
        if path[:4].lower() != "urn:":  # (nearly every name: no look-up)
            return None, path
        low = path.lower()
        for lurn, urn in self._urns_longest_first:
            if low == lurn:
                return urn, ""
            if low.startswith(lurn + ":"):
                return urn, path[len(lurn) + 1:]
        return None, path

    def lookup(self, urn: str | None, name: str) -> dict | None:
        """The definition of top-level attribute `name` in schema `urn` (core when None)."""
        if urn is None or urn == self.core:
            return self.core_attrs.get(name.lower())
        return self.ext_attrs.get(urn.lower(), {}).get(name.lower())

    @staticmethod
    def sub_attribute(parent: dict, name: str) -> dict | None:
        """The definition of sub-attribute `name` of a complex attribute, case-insensitively."""
        subs = _SUB_ATTRIBUTES.get(id(parent))
        if subs is None:  # (a definition made elsewhere)
            subs = {s["name"].lower(): s for s in parent.get("subAttributes", ())}
        return subs.get(name.lower())


# The sub-attributes of each complex attribute defined above (by its identity: the definitions live
# as long as the process), by lowercase name.
_SUB_ATTRIBUTES: dict[int, dict[str, dict]] = {
    id(a): {s["name"].lower(): s for s in a["subAttributes"]}
    for a in [*(a for schema in SCHEMAS.values() for a in schema["attributes"]), *COMMON_ATTRIBUTES]
    if a.get("subAttributes")}


USER_SCHEMA = ResourceSchema("User")
GROUP_SCHEMA = ResourceSchema("Group")
SCHEMA_FOR = {"User": USER_SCHEMA, "Group": GROUP_SCHEMA}
