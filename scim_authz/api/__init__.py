"""The /v1 JSON API for applications: checks, lookups, roles, schema, relationships, users, audit."""
