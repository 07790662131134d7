"""/v1 roles, role assignments, group mappings, the relationship schema and relationships."""
from __future__ import annotations

from flask import Blueprint, g, request

from scim_authz.api.context import api_endpoint, json_body
from scim_authz.api.errors import InvalidRequest
from scim_authz.api.schemas import ASSIGNMENT, MAPPING, RELATIONSHIPS, ROLE, ROLE_PATCH, SCHEMA_WRITE, load
from scim_authz.policy import assignments, mappings, roles
from scim_authz.policy import relationships as rels
from scim_authz.policy.lookup import role_or_404

bp = Blueprint("api_policy", __name__, url_prefix="/v1")


def _tid() -> int:
    return g.caller.tenant_id


# ---- roles -----------------------------------------------------------------------------------

@bp.get("/roles")
@api_endpoint()
def list_roles():
    return {"roles": roles.list_roles(_tid())}


@bp.post("/roles")
@api_endpoint(write=True)
def create_role():
    role, revision = roles.create_role(_tid(), load(ROLE, json_body()))
    return {"role": role, "revision": revision}, 201


@bp.get("/roles/<key>")
@api_endpoint()
def get_role(key):
    return {"role": roles.role_dict(role_or_404(_tid(), key))}


@bp.put("/roles/<key>")
@api_endpoint(write=True)
def replace_role(key):
    role, revision = roles.update_role(_tid(), key, load(ROLE_PATCH, json_body()), partial=False)
    return {"role": role, "revision": revision}


@bp.patch("/roles/<key>")
@api_endpoint(write=True)
def patch_role(key):
    role, revision = roles.update_role(_tid(), key, load(ROLE_PATCH, json_body(), partial=True), partial=True)
    return {"role": role, "revision": revision}


@bp.delete("/roles/<key>")
@api_endpoint(write=True)
def delete_role(key):
    return {"deleted": key, "revision": roles.delete_role(_tid(), key)}


# ---- assignments and mappings ----------------------------------------------------------------

@bp.get("/role-assignments")
@api_endpoint()
def list_assignments():
    return {"assignments": assignments.list_assignments(_tid(), request.args.get("user"), request.args.get("role"))}


@bp.post("/role-assignments")
@api_endpoint(write=True)
def assign():
    data = load(ASSIGNMENT, json_body())
    a, revision, created = assignments.assign(_tid(), data["user"], data["role"], data["resource"], g.caller.label)
    return {"assignment": a, "revision": revision}, (201 if created else 200)


@bp.delete("/role-assignments/<int:aid>")
@api_endpoint(write=True)
def unassign(aid):
    return {"deleted": aid, "revision": assignments.unassign(_tid(), aid)}


@bp.get("/group-mappings")
@api_endpoint()
def list_mappings():
    return {"mappings": mappings.list_mappings(_tid(), request.args.get("group"))}


@bp.post("/group-mappings")
@api_endpoint(write=True)
def map_group():
    data = load(MAPPING, json_body())
    m, revision, created = mappings.map_group(_tid(), data["group"], data["role"], data["resource"], g.caller.label)
    return {"mapping": m, "revision": revision}, (201 if created else 200)


@bp.delete("/group-mappings/<int:mid>")
@api_endpoint(write=True)
def unmap(mid):
    return {"deleted": mid, "revision": mappings.unmap(_tid(), mid)}


# ---- schema ----------------------------------------------------------------------------------

@bp.get("/schema")
@api_endpoint()
def get_schema():
    version = request.args.get("version", type=int)
    return {"schema": rels.schema_dict(rels.get_schema(_tid(), version))}


@bp.get("/schema/versions")
@api_endpoint()
def schema_versions():
    return {"versions": rels.list_versions(_tid())}


@bp.post("/schema")
@api_endpoint(write=True)
def write_schema():
    schema, revision = rels.write_schema(_tid(), load(SCHEMA_WRITE, json_body())["source"], g.caller.label)
    return {"schema": schema, "revision": revision}, 201


@bp.post("/schema/validate")
@api_endpoint()
def validate_schema():
    return rels.validate(load(SCHEMA_WRITE, json_body())["source"])


# ---- relationships ---------------------------------------------------------------------------

@bp.post("/relationships")
@api_endpoint(write=True)
def write_relationships():
    items = load(RELATIONSHIPS, json_body())["relationships"]
    written, revision = rels.write_relationships(_tid(), items)
    return {"written": written, "revision": revision}


@bp.post("/relationships/delete")
@api_endpoint(write=True)
def delete_relationships():
    items = load(RELATIONSHIPS, json_body())["relationships"]
    deleted, revision = rels.delete_relationships(_tid(), items)
    return {"deleted": deleted, "revision": revision}


@bp.get("/relationships")
@api_endpoint()
def read_relationships():
    args = request.args.to_dict()
    limit = _int(args.pop("limit", "100"), "limit", 1, 10_000)
    after = _int(args.pop("cursor"), "cursor", 1, None) if "cursor" in args else None
    items, nxt = rels.read_relationships(_tid(), args, after, limit)
    return {"relationships": items, "next_cursor": str(nxt) if nxt else None}


def _int(raw: str, name: str, lo: int, hi: int | None) -> int:
    try:
        v = int(raw)
    except ValueError as e:
        raise InvalidRequest(f"{name} must be an integer", details={name: ["not an integer"]}) from e
    if v < lo or (hi is not None and v > hi):
        raise InvalidRequest(f"{name} is out of range", details={name: [f"between {lo} and {hi or '∞'}"]})
    return v
