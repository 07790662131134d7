"""/Bulk (RFC 7644 §3.7): operations in order, each all-or-nothing, with bulkId references."""
from __future__ import annotations

import re

from scim_authz.pdp.changes import savepoint
from scim_authz.scim import schemas, service
from scim_authz.scim.errors import InvalidSyntax, InvalidValue, NotFound, PayloadTooLarge, SCIMError
from scim_authz.scim.schema_defs import BULK_RESPONSE

PATH_RE = re.compile(r"^/(Users|Groups)(?:/([^/]+))?/?$")
RTYPE = {"Users": "User", "Groups": "Group"}
BULK_REF = re.compile(r"^bulkId:(.+)$")


class _Unresolved(Exception):
    """An operation refers to a bulkId not created (yet)."""


def _resolve_refs(value, ids: dict[str, str]):
    """Replace every "bulkId:x" string with the id created for x (RFC 7644 §3.7.2)."""
    if isinstance(value, str):
        m = BULK_REF.match(value)
        if m:
            if m.group(1) not in ids:
                raise _Unresolved(m.group(1))
            return ids[m.group(1)]
        return value
    if isinstance(value, list):
        return [_resolve_refs(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_refs(v, ids) for k, v in value.items()}
    return value


def _run_one(ctx, op: dict, ids: dict[str, str]) -> dict:
    method = op["method"].upper()
    m = PATH_RE.match(op["path"])
    if not m:
        raise InvalidValue(f"bulk path {op['path']!r} must be /Users, /Groups or /<type>/<id>")
    rtype, rid = RTYPE[m.group(1)], m.group(2)
    if rid:
        rid = _resolve_refs(rid, ids)
    data = _resolve_refs(op.get("data"), ids)
    out = {"method": method}
    if op.get("bulkId"):
        out["bulkId"] = op["bulkId"]
    if method == "POST":
        if rid:
            raise InvalidValue("POST goes to /Users or /Groups, without an id")
        if not op.get("bulkId"):
            raise InvalidValue("a bulk POST needs a bulkId")
        row = service.create(ctx, rtype, data)
        ids[op["bulkId"]] = row.id
        status = 201
    elif not rid:
        raise InvalidValue(f"{method} needs /{m.group(1)}/<id>")
    elif method == "PUT":
        row = service.replace(ctx, rtype, rid, data, op.get("version"))
        status = 200
    elif method == "PATCH":
        row = service.patch(ctx, rtype, rid, data, op.get("version"))
        status = 200
    else:
        service.delete(ctx, rtype, rid, op.get("version"))
        out.update(status="204", location=f"{ctx.base_url}/{rtype}s/{rid}")
        return out
    out.update(status=str(status), location=f"{ctx.base_url}/{rtype}s/{row.id}",
               version=service.etag(row.version))
    return out


def run(ctx, body, max_operations: int) -> dict:
    """Run a BulkRequest; stop after failOnErrors errors. Each operation commits or leaves nothing."""
    message = schemas.load(schemas.BULK, body)
    ops = message["Operations"]
    if len(ops) > max_operations:
        raise PayloadTooLarge(f"bulk requests are limited to {max_operations} operations (maxOperations)")
    bulk_ids = [o["bulkId"] for o in ops if o.get("bulkId")]
    if len(bulk_ids) != len(set(bulk_ids)):
        raise InvalidSyntax("bulkId values must be unique within a request")
    fail_on = message.get("failOnErrors")
    ids: dict[str, str] = {}
    results: dict[int, dict] = {}
    pending = list(range(len(ops)))
    errors = 0
    # Operations may refer to bulkIds created later in the request; run what can run, then retry.
    while pending and not (fail_on and errors >= fail_on):
        progressed, waiting = False, []
        for i in pending:
            if fail_on and errors >= fail_on:
                break
            try:
                with savepoint():
                    results[i] = _run_one(ctx, ops[i], ids)
                progressed = True
            except _Unresolved:
                waiting.append(i)
            except SCIMError as e:
                results[i] = _error(ops[i], e)
                errors += 1
                progressed = True
        pending = waiting
        if not progressed:
            for i in pending:
                results[i] = _error(ops[i], InvalidValue(
                    "refers to a bulkId that no operation in this request created", status=409))
                errors += 1
            break
    return {"schemas": [BULK_RESPONSE], "Operations": [results[i] for i in sorted(results)]}


def _error(op: dict, err: SCIMError) -> dict:
    out = {"method": op["method"].upper(), "status": str(err.status), "response": err.body()}
    if op.get("bulkId"):
        out["bulkId"] = op["bulkId"]
    if isinstance(err, NotFound) and op.get("path"):
        out["location"] = op["path"]
    return out
