"""Users, groups and memberships as the rest of the system sees them."""
