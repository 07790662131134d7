"""A tenant's life as a super-admin or an operator runs it: create (with its first credentials),
rename and link it to an organisation's environments, disable and enable it. Every change is
written to the administrative change log in its own transaction, as the current actor's.

Disabling takes effect everywhere at the next request: the tenant's revision advances with a
TENANT change (every instance's engine then denies its checks, "denied: tenant disabled") and a
CREDENTIAL change naming its credentials (every instance's credential cache then looks them up
again, and scim_authz/credentials/keys.py refuses them). Its console admins are shut out by the
console itself (scim_authz/admin/context.py). Nothing is deleted: enabling restores all of it.
"""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from scim_authz.authz.changes import CREDENTIAL, TENANT
from scim_authz.credentials.keys import IssuedSecret, issue_credential
from scim_authz.db.extensions import db
from scim_authz.db.models import Credential, Tenant, utcnow
from scim_authz.governance import changelog
from scim_authz.pdp.changes import note, record
from scim_authz.policy.errors import Conflict, InvalidInput, NotFound
from scim_authz.policy.tenants import create_tenant, find_tenant

NAME_MAX = 200
# An organisation and an environment are short lowercase labels, like a tenant's key.
LABEL = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
LABEL_HINT = "1-63 lowercase letters, digits or dashes"
CREDENTIAL_KINDS = ("scim", "app")  # what a new tenant can be issued: its IdP's token, its app's key
ISSUED_NAME = "issued with the tenant"


def tenant_dict(t: Tenant) -> dict:
    """A tenant as the admin API shows it and the change log keeps it."""
    return {"key": t.key, "name": t.name, "role_mode": t.role_mode, "organization": t.organization,
            "environment": t.environment, "disabled": t.disabled_at is not None,
            "disabled_at": _iso(t.disabled_at), "created": _iso(t.created)}


def _iso(when) -> str | None:
    return when.isoformat(timespec="seconds") + "Z" if when is not None else None


def tenant_or_404(key: str) -> Tenant:
    tenant = find_tenant(key) if isinstance(key, str) else None
    if tenant is None:
        raise NotFound(f"there is no tenant {key!r}")
    return tenant


def all_tenants(organization: str | None = None) -> list[Tenant]:
    """Every tenant (of one organisation, when named), by key."""
    q = select(Tenant).order_by(Tenant.key)
    if organization:
        q = q.where(Tenant.organization == organization)
    return list(db.session.execute(q).scalars())


Issued = list[tuple[str, IssuedSecret]]  # (kind, the secret, shown once)


def create(key: str, name: str | None = None, role_mode: str = "hybrid", *, organization: str | None = None,
           environment: str | None = None, credentials=CREDENTIAL_KINDS) -> tuple[Tenant, Issued]:
    """A new tenant, and its first credentials of `credentials`' kinds: [(kind, secret shown once)]."""
    kinds = list(dict.fromkeys(credentials or ()))
    bad = [k for k in kinds if k not in CREDENTIAL_KINDS]
    if bad:
        raise InvalidInput(f"credentials are among {', '.join(CREDENTIAL_KINDS)}",
                           details={"credentials": [f"not a kind: {', '.join(map(str, bad))}"]})
    name = _name(name if name is not None else key)
    labels = _labels(organization, environment)
    try:
        with db.session.begin_nested():  # two creating the same key at once: the second is told, not a 500
            tenant = create_tenant(key, name, role_mode)
    except IntegrityError as e:
        raise Conflict(f"tenant {key!r} already exists") from e
    tenant.organization, tenant.environment = labels
    _unique_environment(tenant)
    issued = [(kind, issue_credential(tenant, kind, ISSUED_NAME)) for kind in kinds]
    db.session.flush()
    after = {**tenant_dict(tenant), "credentials": [{"kind": k, "prefix": s.prefix} for k, s in issued]}
    changelog.record(tenant.id, "tenant.create", tenant.key, before=None, after=after)
    return tenant, issued


def update(key: str, data: dict) -> Tenant:
    """Rename (`name`) or link (`organization`, `environment`; None unlinks). The key never changes:
    SCIM clients, URLs and logs know the tenant by it."""
    tenant = tenant_or_404(key)
    unknown = sorted(set(data) - {"name", "organization", "environment"})
    if unknown:
        raise InvalidInput("only name, organization and environment can be changed",
                           details={u: ["unknown field"] for u in unknown})
    before = {"name": tenant.name, "organization": tenant.organization, "environment": tenant.environment}
    if "name" in data:
        tenant.name = _name(data["name"])
    if "organization" in data or "environment" in data:
        tenant.organization, tenant.environment = _labels(data.get("organization", tenant.organization),
                                                          data.get("environment", tenant.environment))
        _unique_environment(tenant)
    after = {"name": tenant.name, "organization": tenant.organization, "environment": tenant.environment}
    changed = [f for f in before if before[f] != after[f]]
    if changed:
        action = "tenant.rename" if "name" in changed else "tenant.link"
        changelog.record(tenant.id, action, tenant.key, before={f: before[f] for f in changed},
                         after={f: after[f] for f in changed})
    db.session.flush()
    return tenant


def disable(key: str) -> tuple[Tenant, bool]:
    """Disable the tenant; (tenant, False) when it already was (nothing changes, nothing is logged)."""
    tenant = tenant_or_404(key)
    if tenant.disabled_at is not None:
        return tenant, False
    tenant.disabled_at = utcnow()
    db.session.flush()
    live = [str(cid) for cid in db.session.execute(select(Credential.id).where(
        Credential.tenant_id == tenant.id, Credential.revoked_at.is_(None))).scalars()]
    note(tenant.id, TENANT, [str(tenant.id)])  # every engine: its checks are denied
    record(tenant.id, CREDENTIAL, live)  # every credential cache: look its secrets up again
    changelog.record(tenant.id, "tenant.disable", tenant.key, before={"disabled": False, "disabled_at": None},
                     after={"disabled": True, "disabled_at": _iso(tenant.disabled_at)})
    return tenant, True


def enable(key: str) -> tuple[Tenant, bool]:
    """Enable a disabled tenant; (tenant, False) when it was not disabled."""
    tenant = tenant_or_404(key)
    if tenant.disabled_at is None:
        return tenant, False
    was = _iso(tenant.disabled_at)
    tenant.disabled_at = None
    db.session.flush()
    record(tenant.id, TENANT, [str(tenant.id)])
    changelog.record(tenant.id, "tenant.enable", tenant.key, before={"disabled": True, "disabled_at": was},
                     after={"disabled": False, "disabled_at": None})
    return tenant, True


def _name(value) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise InvalidInput(f"the name is 1-{NAME_MAX} printable characters",
                           details={"name": [f"1-{NAME_MAX} printable characters"]})
    return name


def _labels(organization, environment) -> tuple[str | None, str | None]:
    """(organization, environment), each a label or None; an environment belongs to an organisation."""
    organization, environment = organization or None, environment or None
    for field, value in (("organization", organization), ("environment", environment)):
        if value is not None and not (isinstance(value, str) and LABEL.match(value)):
            raise InvalidInput(f"{field} must be {LABEL_HINT}", details={field: [LABEL_HINT]})
    if environment is not None and organization is None:
        raise InvalidInput("an environment belongs to an organization: name the organization too",
                           details={"environment": ["needs an organization"]})
    return organization, environment


def _unique_environment(tenant: Tenant) -> None:
    """One tenant per environment of an organisation (acme's production is one tenant)."""
    if tenant.environment is None:
        return
    other = db.session.execute(select(Tenant.key).where(
        Tenant.organization == tenant.organization, Tenant.environment == tenant.environment,
        Tenant.id != tenant.id)).scalar()
    if other is not None:
        raise Conflict(f"tenant {other!r} is already {tenant.organization}'s {tenant.environment} environment",
                       details={"environment": [f"already tenant {other}"]})
