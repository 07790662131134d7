"""Policy as code: a tenant's policy in one declarative file (YAML or JSON; docs/policy-as-code.md,
docs/policy.schema.json), validated offline against the real engine, exported from a tenant,
compared with one and applied to it through the policy services in one transaction and one
revision, and promoted between the linked environments of an organisation.

    source.py      the file's text -> plain data that remembers each value's line
    document.py    the file's shape -> a Policy (marshmallow), problems as Findings
    references.py  what must resolve within the file: roles, conditions, the schema, relationships
    fixtures.py    the file's sample directory as an engine Snapshot; its assertions run on it
    validate.py    all of the above, offline: no server, no database
    state.py       a tenant's policy as it stands, read from the database (and exported)
    resolve.py     the file's groups and users found in a tenant by displayName, externalId, userName
    diff.py        what would change: + / - / ~ lines, and the plan that makes them
    apply.py       the plan carried out through the policy services, all or nothing, one revision
    promote.py     one environment's policy applied to another of the same organisation
    render.py      YAML out, with block scalars and flow lists where they read best
"""
