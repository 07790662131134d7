"""The domain services every edge shares (/v1, the console, the CLI): roles, assignments, group
mappings, tenants and their settings, the relationship schema and relationships, user sync,
decision-log reads and look-ups, in one vocabulary. Their errors carry no HTTP status: each edge
maps them once."""
