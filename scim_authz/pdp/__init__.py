"""This instance's decision point: the engine it holds, the decision log it writes, the change log
every write appends to, and how revisions reach the other workers and instances."""
from scim_authz.pdp.instance import (
    AUDIT_KEY,
    ENGINE_KEY,
    audit,
    close,
    engine,
    share_revisions,
    warm_up,
    write_counter,
)

__all__ = ["AUDIT_KEY", "ENGINE_KEY", "audit", "close", "engine", "share_revisions", "warm_up", "write_counter"]
