"""Promotion: one environment's policy (say acme-staging's) exported and applied to another of the
same organisation (acme's production), so a change is tried before it reaches production.

By default the policy sections travel (role mode, default role, roles, group mappings, schema);
assignments, relationships and resources are each environment's own data and travel only when
asked. Mappings find their groups in the target by displayName (or externalId where the source
needs it): a group the target lacks stops the promotion, naming every one, before anything is
written. Tenants that are not environments of one organisation are refused unless forced."""
from __future__ import annotations

from scim_authz.db.models import Tenant
from scim_authz.policy.as_code.apply import Applied, apply_policy, diff_policy
from scim_authz.policy.as_code.diff import Plan
from scim_authz.policy.as_code.document import POLICY_SECTIONS, Policy
from scim_authz.policy.as_code.state import export_document, read_current
from scim_authz.policy.as_code.validate import PolicyFileInvalid, validate_data
from scim_authz.policy.errors import Conflict, InvalidInput


class NotOneOrganization(Conflict):
    """The tenants are not environments of one organisation (and the promotion was not forced)."""

    code = "not_one_organization"


def same_organization(a: Tenant, b: Tenant) -> bool:
    """Whether two tenants are environments of one organisation (`tenants link`)."""
    return a.organization is not None and a.organization == b.organization


def _where(t: Tenant) -> str:
    return f"{t.key} ({t.environment} of {t.organization})" if t.organization else f"{t.key} (not linked)"


def promotion(source: Tenant, target: Tenant, sections=POLICY_SECTIONS, *, force: bool = False) -> Policy:
    """The source's policy, as a file would hold it, once the two tenants are known to be
    environments of one organisation."""
    if source.id == target.id:
        raise InvalidInput("a tenant cannot be promoted to itself", details={"to": ["another tenant"]})
    if not force and not same_organization(source, target):
        raise NotOneOrganization(f"{_where(source)} and {_where(target)} are not environments of one organisation; "
                                 "link them (`tenants link`) or force the promotion")
    report = validate_data(export_document(read_current(source.id, sections)))
    if not report.ok:  # say, a permission saved before permissions were held to the vocabulary
        raise PolicyFileInvalid(f"the policy of {source.key} does not validate as a file; fix it there first",
                                details=[f.to_dict() for f in report.findings])
    return report.policy


def preview(source: Tenant, target: Tenant, sections=POLICY_SECTIONS, *, force: bool = False) -> Plan:
    """What promoting would change in the target (reads only)."""
    return diff_policy(target.id, promotion(source, target, sections, force=force))[1]


def promote(source: Tenant, target: Tenant, sections=POLICY_SECTIONS, *, force: bool = False,
            dry_run: bool = False) -> Applied:
    """Apply the source's policy to the target (the caller commits), logged as policy.promote."""
    policy = promotion(source, target, sections, force=force)
    return apply_policy(target.id, policy, dry_run=dry_run, target=f"from {source.key}", action="policy.promote")
