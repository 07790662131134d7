"""The IdP webhook edge (/webhooks): Logto webhooks and Okta event hooks, verified with each tenant's
secret and applied to the tenant's directory through the services SCIM and /v1 use (docs/webhooks.md).

Layered like the other edges: `logto` and `okta` turn a payload into plain events (no Flask, no
database), `verify` checks signatures and secrets (pure), `sync` applies events to the directory,
and `views` holds the blueprint."""
