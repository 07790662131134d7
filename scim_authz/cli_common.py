"""What the command groups share: every command runs as the operating-system user who ran it (the
administrative change log's `cli` actor), set once where a group invokes its command, and the
tenant a command names."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from scim_authz.governance.actor import acting, cli_actor
from scim_authz.policy.tenants import find_tenant


class _Acting:
    """Run the group's subcommand, however it was added, as the CLI's actor."""

    def invoke(self, ctx):
        with acting(cli_actor()):
            return super().invoke(ctx)


class ActingGroup(_Acting, AppGroup):
    """An AppGroup (commands run in an app context) whose commands act as the CLI user."""


class ActingPlainGroup(_Acting, click.Group):
    """A plain click group (its commands make an app themselves, if they need one) whose commands
    act as the CLI user."""


class ActingCommand(_Acting, click.Command):
    """A command outside any group that acts as the CLI user."""


class Unusable(click.ClickException):
    """A file that cannot be read or a tenant that does not exist: exit status 2."""

    exit_code = 2


def tenant_or_fail(key: str):
    tenant = find_tenant(key)
    if tenant is None:
        raise click.ClickException(f"no tenant {key!r}; create it with `tenants create {key}`")
    return tenant
