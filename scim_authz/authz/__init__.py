"""The decision engine: no Flask here; plain data in, decisions out."""
