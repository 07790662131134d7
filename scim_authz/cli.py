"""Command line: `flask --app wsgi tenants …`, `… tokens …`, or the `scim-authz` console script."""
from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from scim_authz.cli_common import ActingGroup, tenant_or_fail
from scim_authz.credentials.admins import (
    AdminError,
    create_admin,
    find_admin,
    list_admins,
    normalise_email,
    set_disabled,
    set_password,
)
from scim_authz.credentials.keys import issue_credential, revoke_credential
from scim_authz.db.extensions import db
from scim_authz.db.models import Credential
from scim_authz.policy.errors import PolicyError
from scim_authz.policy.tenants import create_tenant, find_tenant, list_tenants
from scim_authz.policy.vocabulary import ROLE_MODES
from scim_authz.web.requests import scim_base_url

tenants_cli = ActingGroup("tenants", help="Create, list, rename, link, disable and enable tenants.")
tokens_cli = ActingGroup("tokens", help="Issue, list and revoke SCIM tokens and API keys.")
admins_cli = ActingGroup("admins", help="Create, list, disable and enable the console's admins, and reset their "
                                     "passwords. Disabling and a new password end the admin's console sessions.")
roles_cli = ActingGroup("roles", help="Inspect the roles of tenants.")


@tenants_cli.command("create")
@click.argument("key")
@click.option("--name", help="Display name (defaults to the key).")
@click.option("--role-mode", type=click.Choice(list(ROLE_MODES)), default="hybrid", show_default=True)
def tenants_create(key, name, role_mode):
    """Create tenant KEY."""
    try:
        tenant = create_tenant(key, name, role_mode)
    except PolicyError as e:
        raise click.ClickException(str(e)) from e
    db.session.commit()
    click.echo(f"created tenant {tenant.key} (id {tenant.id}, role mode {tenant.role_mode})")


@tenants_cli.command("list")
def tenants_list():
    """List tenants."""
    for t in list_tenants():
        state = f"\tdisabled {t.disabled_at:%Y-%m-%d %H:%M}" if t.disabled_at else ""
        click.echo(f"{t.key}\t{t.name}\t{t.role_mode}\trevision {t.revision}{state}")


@tokens_cli.command("issue")
@click.argument("tenant_key")
@click.option("--kind", type=click.Choice(["scim", "app", "pdp"]), default="scim", show_default=True,
              help="scim: an IdP's SCIM token; app: an application's /v1 key; pdp: a decision point's sync key.")
@click.option("--name", default="", help="A label, e.g. 'Okta production'.")
def tokens_issue(tenant_key, kind, name):
    """Issue a token for TENANT_KEY; it is printed once and stored only as a hash."""
    tenant = tenant_or_fail(tenant_key)
    issued = issue_credential(tenant, kind, name)
    db.session.commit()
    click.echo(f"id {issued.credential_id}  prefix {issued.prefix}")
    click.echo(issued.secret)


@tokens_cli.command("list")
@click.argument("tenant_key")
def tokens_list(tenant_key):
    """List TENANT_KEY's tokens (prefix, kind, created, last used, revoked)."""
    tenant = tenant_or_fail(tenant_key)
    creds = db.session.execute(
        select(Credential).where(Credential.tenant_id == tenant.id).order_by(Credential.id)).scalars()
    for c in creds:
        state = f"revoked {c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else "active"
        used = f"{c.last_used:%Y-%m-%d %H:%M}" if c.last_used else "never"
        click.echo(f"{c.id}\t{c.kind}\t{c.prefix}…\t{c.name or '-'}\tcreated {c.created:%Y-%m-%d %H:%M}\t"
                   f"last used {used}\t{state}")


@tokens_cli.command("revoke")
@click.argument("tenant_key")
@click.argument("credential_id", type=int)
def tokens_revoke(tenant_key, credential_id):
    """Revoke token CREDENTIAL_ID of TENANT_KEY."""
    tenant = tenant_or_fail(tenant_key)
    if not revoke_credential(tenant, credential_id):
        raise click.ClickException(f"tenant {tenant_key} has no token {credential_id}")
    db.session.commit()
    click.echo(f"revoked token {credential_id}")


def _read_password(from_stdin: bool) -> str:
    """The first line of standard input (for scripts), or asked for twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@admins_cli.command("create")
@click.argument("email")
@click.option("--tenant", "tenant_key", help="The tenant the admin manages.")
@click.option("--super", "is_super", is_flag=True, help="A super-admin, who picks any tenant.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def admins_create(email, tenant_key, is_super, password_stdin):
    """Create a console admin EMAIL of one tenant (--tenant KEY) or of all (--super)."""
    if bool(tenant_key) == is_super:
        raise click.UsageError("give either --tenant KEY or --super")
    tenant = tenant_or_fail(tenant_key) if tenant_key else None
    password = _read_password(password_stdin)
    try:
        admin = create_admin(email, password, tenant.id if tenant else None)
    except AdminError as e:
        raise click.ClickException(str(e)) from e
    db.session.commit()
    click.echo(f"created admin {admin.email} ({'super-admin' if tenant is None else 'tenant ' + tenant.key})")


@admins_cli.command("list")
def admins_list():
    """List console admins (email, tenant, created, last sign-in, active or disabled since)."""
    for admin, tenant in list_admins():
        last = f"{admin.last_login:%Y-%m-%d %H:%M}" if admin.last_login else "never"
        state = f"disabled {admin.disabled_at:%Y-%m-%d %H:%M}" if admin.disabled_at else "active"
        click.echo(f"{admin.email}\t{tenant.key if tenant else '(super-admin)'}\tcreated {admin.created:%Y-%m-%d %H:%M}"
                   f"\tlast sign-in {last}\t{state}")


def _change_admin(change, *args):
    try:
        admin = change(*args)
    except AdminError as e:
        raise click.ClickException(str(e)) from e
    db.session.commit()
    return admin


@admins_cli.command("disable")
@click.argument("email")
def admins_disable(email):
    """Disable admin EMAIL: no sign-in, and their console sessions end at once."""
    admin = _change_admin(set_disabled, email, True)
    click.echo(f"disabled admin {admin.email}; their console sessions have ended")


@admins_cli.command("enable")
@click.argument("email")
def admins_enable(email):
    """Let disabled admin EMAIL sign in again (no earlier session comes back)."""
    admin = _change_admin(set_disabled, email, False)
    click.echo(f"enabled admin {admin.email}")


@admins_cli.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def admins_reset_password(email, password_stdin):
    """Set a new password for admin EMAIL and end their console sessions."""
    if find_admin(email) is None:  # before asking for a password that would be thrown away
        raise click.ClickException(f"there is no admin {normalise_email(email)}")
    admin = _change_admin(set_password, email, _read_password(password_stdin))
    click.echo(f"set a new password for {admin.email}; their console sessions have ended")


@roles_cli.command("check")
@click.option("--tenant", "tenant_key", help="Only this tenant (default: every tenant).")
def roles_check(tenant_key):
    """Report permissions no check can ever ask about (exit status 1 when there are any)."""
    from scim_authz.policy.roles import uncheckable_permissions

    tenant = tenant_or_fail(tenant_key) if tenant_key else None
    found = uncheckable_permissions(tenant.id if tenant else None)
    for tkey, role, permission, why in found:
        click.echo(f"{tkey}\trole {role}\t{permission}\t{why}")
    if found:
        raise click.ClickException(f"{len(found)} permission(s) can never be checked; edit those roles "
                                   "(an action is letters, digits and _, e.g. sign_off)")
    click.echo("every permission of every role can be checked")


@click.command("demo")
@with_appcontext
@click.option("--tenant", "tenant_key", default="demo", show_default=True)
def demo(tenant_key):
    """Create the demo tenant if missing, issue it a fresh SCIM token and print how to connect."""
    tenant = find_tenant(tenant_key) or create_tenant(tenant_key, "Demo organisation")
    issued = issue_credential(tenant, "scim", "demo (make run)")
    db.session.commit()
    click.echo("")
    click.echo(f"  Tenant:         {tenant.key}")
    click.echo(f"  SCIM base URL:  {scim_base_url()}")
    click.echo(f"  SCIM token:     {issued.secret}")
    click.echo("  (shown once; stored only as a hash. `make token` issues another.)")
    click.echo("")


@click.command("prune-changes")
@with_appcontext
@click.option("--keep", default=100_000, show_default=True, help="Revisions of changes to keep per tenant.")
def prune_changes(keep):
    """Trim the change log instances catch up from (one further behind reloads its tenant)."""
    from scim_authz.pdp.changes import prune

    n = prune(None, keep)
    db.session.commit()
    click.echo(f"deleted {n} change rows")


@click.command("prune-admin-changes")
@with_appcontext
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Keep this many days (default: AUTHZ_ADMIN_CHANGES_RETENTION_DAYS, 400).")
def prune_admin_changes(days):
    """Retention: delete administrative change log entries older than the days kept."""
    from flask import current_app

    from scim_authz.governance.changelog import prune

    n = prune(days or current_app.config["AUTHZ_ADMIN_CHANGES_RETENTION_DAYS"])
    db.session.commit()
    click.echo(f"deleted {n} administrative change log entries")


@click.command("access-review")
@with_appcontext
@click.argument("tenant_key")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.File("w"), default="-", help="A file (default: standard output).")
@click.option("--as-of", "as_of", type=click.DateTime(), help="As it stood then (UTC), replayed from the history.")
def access_review_cmd(tenant_key, fmt, output, as_of):
    """Every user of TENANT_KEY with each effective role, its provenance, since when, last checked."""
    import json

    from scim_authz import pdp
    from scim_authz.governance import access_review

    tenant = tenant_or_fail(tenant_key)
    rows = access_review.review_as_of(tenant.id, as_of) if as_of else access_review.review(pdp.engine(), tenant.id)
    output.write(access_review.as_csv(rows) if fmt == "csv" else json.dumps({"access_review": rows}, indent=2) + "\n")


def register_cli(app: Flask) -> None:
    """Attach the command groups to `flask`."""
    from scim_authz.cli_policy import policy_cli
    from scim_authz.cli_tenants import TENANT_COMMANDS, admin_keys_cli, pdp_keys_cli
    from scim_authz.cli_webhooks import webhooks_cli
    from scim_authz.scim.bulk_import.command import import_cmd

    for command in TENANT_COMMANDS:
        tenants_cli.add_command(command)
    app.cli.add_command(admin_keys_cli)
    app.cli.add_command(pdp_keys_cli)

    app.cli.add_command(tenants_cli)
    app.cli.add_command(policy_cli)
    app.cli.add_command(webhooks_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(admins_cli)
    app.cli.add_command(roles_cli)
    app.cli.add_command(demo)
    app.cli.add_command(prune_changes)
    app.cli.add_command(prune_admin_changes)
    app.cli.add_command(access_review_cmd)
    app.cli.add_command(import_cmd)


def main() -> None:
    """Entry point of the `scim-authz` console script."""
    from scim_authz import create_app
    from scim_authz.cli_pdp import pdp_cmd
    from scim_authz.cli_policy import policy_cli
    from scim_authz.config.settings import ConfigurationError

    group = FlaskGroup(create_app=lambda: create_app())
    group.add_command(policy_cli)  # found before any app is made: `policy validate` needs none
    group.add_command(pdp_cmd)  # nor does a decision point, which has no database
    try:
        group(prog_name="scim-authz")
    except ConfigurationError as e:  # a missing setting: its message, not a traceback
        sys.exit(f"scim-authz: {e}")
