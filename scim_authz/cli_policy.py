"""`scim-authz policy …` (also `flask --app wsgi policy …`): a tenant's policy as a file.

    policy validate FILE…                     offline: no server, no database, no app made
    policy export --tenant T [-o FILE]        the tenant's policy as YAML (or --format json)
    policy diff FILE --tenant T               what apply would change: + / - / ~ lines
    policy apply FILE --tenant T [--dry-run]  all or nothing, one revision, prints what changed
    policy promote --from A --to B            one environment's policy applied to another

Exit status, for CI: 0 when all is well; 1 when a file does not validate (each finding printed as
FILE:LINE: path: message), an assertion fails, or a tenant refuses the change; 2 for a usage
error, a file that cannot be read, or a tenant that does not exist."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from scim_authz.cli_common import ActingPlainGroup, Unusable
from scim_authz.db.txn import transaction
from scim_authz.policy.as_code import promote as promotion
from scim_authz.policy.as_code.apply import Applied, apply_policy, diff_policy
from scim_authz.policy.as_code.diff import headline, render
from scim_authz.policy.as_code.document import POLICY_SECTIONS, SECTIONS
from scim_authz.policy.as_code.render import HEADER, to_json, to_yaml
from scim_authz.policy.as_code.source import Finding
from scim_authz.policy.as_code.state import duplicate_names, export_document, read_current
from scim_authz.policy.as_code.validate import PolicyFileInvalid, read_text, validate_text
from scim_authz.policy.errors import PolicyError
from scim_authz.policy.tenants import find_tenant

policy_cli = ActingPlainGroup("policy", help="A tenant's policy as a file: validate (offline), export, diff, apply, "
                                        "promote between environments. docs/policy-as-code.md")


def _text(path: str) -> str:
    try:
        return read_text(path)
    except (OSError, UnicodeDecodeError) as e:
        raise Unusable(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from e


def _tenant(key: str):
    tenant = find_tenant(key)
    if tenant is None:
        raise Unusable(f"no tenant {key!r}")
    return tenant


def _sections(_ctx, _param, value: str | None):
    if value is None:
        return None
    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise click.BadParameter(f"unknown section(s) {', '.join(unknown)}; the sections are {', '.join(SECTIONS)}")
    return names


def _refused(e: PolicyError, filename: str) -> click.ClickException:
    """A refusal as the CLI says it: each finding of an invalid file on its own FILE:LINE line."""
    if isinstance(e, PolicyFileInvalid) and isinstance(e.details, list):
        for d in e.details:
            click.echo(Finding(d.get("path", ""), d["message"], d.get("line")).render(filename))
    elif e.details:  # a service's refusal, by field
        click.echo(json.dumps(e.details, ensure_ascii=False))
    return click.ClickException(e.message)


def _policy_of(path: str):
    """The file's policy, validated offline (assertions included), or exit 1 with its findings."""
    report = validate_text(_text(path))
    for line in report.lines(path):
        click.echo(line)
    if not report.ok:
        raise click.ClickException(f"{path} is not valid ({len(report.findings)} problem(s)); nothing was done")
    return report.policy


def _print_changes(changes, show_all: bool) -> None:
    for line in render(changes, None if show_all else 100):
        click.echo(line)


@policy_cli.command("validate")
@click.argument("files", nargs=-1, required=True)
def validate(files):
    """Validate FILES offline: shape, references, conditions, the schema, and every assertion
    against the real engine in memory. Needs no server and no database."""
    failed = 0
    for path in files:
        report = validate_text(_text(path))
        for line in report.lines(path):
            click.echo(line)
        if report.ok:
            held = len(report.outcomes)
            click.echo(f"{path}: valid ({len(report.policy.sections['roles'])} roles, {held} assertion"
                       f"{'s' if held != 1 else ''} held)")
        else:
            failed += 1
    if failed:
        raise click.ClickException(f"{failed} of {len(files)} file(s) did not validate")


@policy_cli.command("export")
@click.option("--tenant", "tenant_key", required=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="A file (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--sections", callback=_sections, help=f"Comma-separated, of {', '.join(SECTIONS)} (default: all).")
@with_appcontext
def export(tenant_key, output, fmt, sections):
    """Write the tenant's policy as a policy file."""
    with transaction(False):
        tenant = _tenant(tenant_key)
        cur = read_current(tenant.id, sections or SECTIONS)
        doc = export_document(cur)
        shared = duplicate_names(cur)
    if shared:
        click.echo(f"warning: groups share the displayName(s) {', '.join(shared)} and have no externalId; "
                   "rename one before applying this file elsewhere", err=True)
    output.write(to_json(doc) if fmt == "json" else to_yaml(doc, HEADER.format(key=cur.key, revision=cur.revision)))


@policy_cli.command("diff")
@click.argument("file")
@click.option("--tenant", "tenant_key", required=True)
@click.option("--all", "show_all", is_flag=True, help="Every change (default: the first 100 of each kind).")
@click.option("--exit-code", is_flag=True, help="Exit with status 1 when there are changes, as `git diff` does.")
@with_appcontext
def diff(file, tenant_key, show_all, exit_code):
    """Show what applying FILE to the tenant would change."""
    policy = _policy_of(file)
    with transaction(False):
        tenant = _tenant(tenant_key)
        try:
            _, plan = diff_policy(tenant.id, policy)
        except PolicyError as e:
            raise _refused(e, file) from e
    _print_changes(plan.changes, show_all)
    click.echo(f"{tenant_key}: {headline(plan)}")
    if exit_code and not plan.empty:
        raise click.exceptions.Exit(1)


@policy_cli.command("apply")
@click.argument("file")
@click.option("--tenant", "tenant_key", required=True)
@click.option("--dry-run", is_flag=True, help="Make every write, then roll them all back.")
@click.option("--all", "show_all", is_flag=True, help="Print every change (default: the first 100 of each kind).")
@with_appcontext
def apply(file, tenant_key, dry_run, show_all):
    """Make the tenant hold what FILE says: all or nothing, one revision, printing each change."""
    policy = _policy_of(file)
    with transaction(True):
        tenant = _tenant(tenant_key)
        try:
            done = apply_policy(tenant.id, policy, dry_run=dry_run, target=file)
        except PolicyError as e:
            raise _refused(e, file) from e
    _report(done, file, show_all)


def _report(done: Applied, what: str, show_all: bool) -> None:
    _print_changes(done.plan.changes, show_all)
    if not done.changed:
        click.echo(f"{done.tenant_key} already holds {what}: no changes")
    elif done.dry_run:
        click.echo(f"dry run: {headline(done.plan)}; would be revision {done.revision} of {done.tenant_key}; "
                   "nothing was written")
    else:
        click.echo(f"applied to {done.tenant_key} at revision {done.revision}: {headline(done.plan)}")


@policy_cli.command("promote")
@click.option("--from", "source_key", required=True, help="The environment tried (e.g. acme-staging).")
@click.option("--to", "target_key", required=True, help="The environment to change (e.g. acme).")
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
@click.option("--dry-run", is_flag=True, help="Show the changes and write nothing.")
@click.option("--force", is_flag=True, help="Promote between tenants that are not environments of one organisation.")
@click.option("--sections", callback=_sections,
              help=f"Comma-separated (default: {', '.join(POLICY_SECTIONS)}; add assignments, relationships, "
                   "resources to copy those too).")
@with_appcontext
def promote(source_key, target_key, yes, dry_run, force, sections):
    """Show what promoting one environment's policy to another changes, and apply it."""
    sections = sections or POLICY_SECTIONS
    with transaction(False):
        source, target = _tenant(source_key), _tenant(target_key)
        try:
            shown = promotion.preview(source, target, sections, force=force)
        except PolicyError as e:
            raise _refused(e, f"{source_key} -> {target_key}") from e
    click.echo(f"promote {source_key} -> {target_key}")
    _print_changes(shown.changes, True)
    if shown.empty:
        click.echo(f"{target_key} already holds the policy of {source_key}: no changes")
        return
    if dry_run:
        click.echo(f"dry run: nothing was written ({len(shown.changes)} change(s) would be made)")
        return
    if not yes and not click.confirm(f"Apply these {len(shown.changes)} change(s) to {target_key}?"):
        raise click.ClickException("nothing was written")
    with transaction(True):
        source, target = _tenant(source_key), _tenant(target_key)
        try:
            done = promotion.promote(source, target, sections, force=force)
        except PolicyError as e:
            raise _refused(e, f"{source_key} -> {target_key}") from e
        if done.plan.changes != shown.changes:  # raised inside the transaction: rolled back
            raise click.ClickException(f"{source_key} or {target_key} changed since the diff was shown; nothing was "
                                       "written: run promote again")
    click.echo(f"promoted {source_key} to {target_key} at revision {done.revision}: {headline(done.plan)}")
