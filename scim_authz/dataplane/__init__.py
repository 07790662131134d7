"""The data plane: decision points (`scim-authz pdp`) that hold their tenants' decision data in memory
beside the application, synced from the control plane (the server with the database) over /v1/pdp.

wire.py is the format both sides share; source.py is the control plane's side of the sync (reads
from the database); mirror.py, sync.py, spool.py and server.py are the decision point's, which needs
no database. docs/dataplane.md describes the topology and the protocol.
"""
