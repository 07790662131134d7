"""The `flask --app wsgi webhooks …` commands: each tenant's Logto signing key and Okta event hook
secret (docs/webhooks.md). Thin, over scim_authz/policy/webhook_secrets.py; a secret is printed
only when it was generated here, once, and never read back."""
from __future__ import annotations

import sys

import click

from scim_authz.cli_common import ActingGroup, tenant_or_fail
from scim_authz.db.extensions import db
from scim_authz.policy import webhook_secrets
from scim_authz.policy.errors import PolicyError
from scim_authz.web.requests import public_origin

webhooks_cli = ActingGroup("webhooks",
                           help="Set, remove and show the per-tenant secrets of IdP webhooks (Logto, Okta).")
SOURCES = click.Choice(sorted(webhook_secrets.KEYS))


def webhook_url(tenant_key: str, source: str) -> str:
    """The URL to give the IdP for this tenant."""
    return f"{public_origin()}/webhooks/{source}/{tenant_key}"


@webhooks_cli.command("set-secret")
@click.argument("tenant_key")
@click.argument("source", type=SOURCES)
@click.option("--secret", help="The secret to store: Logto's signing key (copied from the webhook's page in "
                               "Logto's console). Okta's is generated when not given.")
@click.option("--secret-stdin", is_flag=True, help="Read the secret from the first line of standard input.")
def set_secret(tenant_key, source, secret, secret_stdin):
    """Store TENANT_KEY's secret for SOURCE (logto or okta), replacing any earlier one."""
    if secret is not None and secret_stdin:
        raise click.UsageError("give --secret or --secret-stdin, not both")
    if secret_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    generated = secret is None
    if generated and source == "logto":
        raise click.UsageError("Logto generates the signing key: copy it from the webhook's page in Logto's "
                               "console and give it with --secret or --secret-stdin")
    if generated:
        secret = webhook_secrets.generate()
    tenant = tenant_or_fail(tenant_key)
    try:
        webhook_secrets.set_secret(tenant, source, secret)
    except PolicyError as e:
        raise click.ClickException(e.message) from e
    db.session.commit()
    click.echo(f"set the {source} secret of tenant {tenant_key}; webhook URL: {webhook_url(tenant_key, source)}")
    if generated:
        click.echo("Give Okta this value as the Authorization header of the event hook (shown once):")
        click.echo(secret)


@webhooks_cli.command("remove-secret")
@click.argument("tenant_key")
@click.argument("source", type=SOURCES)
def remove_secret(tenant_key, source):
    """Forget TENANT_KEY's secret for SOURCE: its webhooks are refused from then on."""
    tenant = tenant_or_fail(tenant_key)
    if not webhook_secrets.remove_secret(tenant, source):
        raise click.ClickException(f"tenant {tenant_key} has no {source} secret")
    db.session.commit()
    click.echo(f"removed the {source} secret of tenant {tenant_key}")


@webhooks_cli.command("show")
@click.argument("tenant_key")
def show(tenant_key):
    """Show TENANT_KEY's webhook URLs and whether each has a secret (never the secret)."""
    tenant = tenant_or_fail(tenant_key)
    for source, is_set in webhook_secrets.configured(tenant).items():
        click.echo(f"{source}\t{webhook_url(tenant_key, source)}\t{'secret set' if is_set else 'no secret'}")
