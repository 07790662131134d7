"""Hostile input on every surface (SCIM, /v1, the console): never a 5xx, always the protocol's error
shape, and nothing written by a request that was refused."""
