"""The `tenants rename|link|disable|enable` commands (beside `tenants create|list` in cli.py) and
`admin-keys generate`, which makes the operator keys of the admin API (/admin/api). Thin, over
scim_authz/policy/tenant_lifecycle.py and scim_authz/credentials/operator_keys.py; each change is
recorded in the administrative change log as the operating-system user's."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from scim_authz.cli_common import ActingGroup
from scim_authz.credentials import operator_keys
from scim_authz.db.extensions import db
from scim_authz.policy import tenant_lifecycle as lifecycle
from scim_authz.policy.errors import PolicyError

admin_keys_cli = ActingGroup("admin-keys", help="Make operator keys for the admin API (/admin/api, ADMIN_API_KEYS).")
pdp_keys_cli = ActingGroup("pdp-keys", help="Make decision point keys that sync every tenant (PDP_KEYS).")


def _change(change, *args):
    """Run a change and commit it; a refused change is an error message."""
    try:
        result = change(*args)
    except PolicyError as e:
        raise click.ClickException(e.message) from e
    db.session.commit()
    return result


@click.command("rename")
@click.argument("key")
@click.argument("name")
@with_appcontext
def tenants_rename(key, name):
    """Give tenant KEY a new display NAME (its key never changes)."""
    tenant = _change(lifecycle.update, key, {"name": name})
    click.echo(f"tenant {tenant.key} is now named {tenant.name!r}")


@click.command("link")
@click.argument("key")
@click.option("--organization", default="", help="The organisation it belongs to (empty: none).")
@click.option("--environment", default="", help="Its environment in that organisation, e.g. production.")
@with_appcontext
def tenants_link(key, organization, environment):
    """Link tenant KEY to an organisation's environment (both empty: unlink)."""
    tenant = _change(lifecycle.update, key, {"organization": organization or None,
                                             "environment": environment or None})
    where = f"{tenant.organization}/{tenant.environment or '-'}" if tenant.organization else "no organisation"
    click.echo(f"tenant {tenant.key}: {where}")


@click.command("disable")
@click.argument("key")
@with_appcontext
def tenants_disable(key):
    """Disable tenant KEY: its tokens and keys refused, its checks denied, its console closed."""
    tenant, changed = _change(lifecycle.disable, key)
    click.echo(f"disabled tenant {tenant.key}" if changed else f"tenant {tenant.key} was already disabled")


@click.command("enable")
@click.argument("key")
@with_appcontext
def tenants_enable(key):
    """Enable disabled tenant KEY again."""
    tenant, changed = _change(lifecycle.enable, key)
    click.echo(f"enabled tenant {tenant.key}" if changed else f"tenant {tenant.key} was not disabled")


TENANT_COMMANDS = (tenants_rename, tenants_link, tenants_disable, tenants_enable)


@admin_keys_cli.command("generate")
@click.argument("name")
def admin_keys_generate(name):
    """Make an operator key named NAME: prints the secret (once) and the ADMIN_API_KEYS entry."""
    try:
        secret, entry = operator_keys.generate(name)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"secret (shown once; send it as Authorization: Bearer …):\n{secret}")
    click.echo(f"add to ADMIN_API_KEYS (comma-separated) on every instance, then restart:\n{entry}")


@pdp_keys_cli.command("generate")
@click.argument("name")
def pdp_keys_generate(name):
    """Make a decision point key of every tenant named NAME: prints the secret (once) and the PDP_KEYS entry."""
    from scim_authz.credentials.keys import PREFIXES

    try:
        secret, entry = operator_keys.generate(name, PREFIXES["pdp"])
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"secret (shown once; give it to the decision point as PDP_KEY):\n{secret}")
    click.echo(f"add to PDP_KEYS (comma-separated) on every instance, then restart:\n{entry}")
