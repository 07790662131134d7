"""The SCIM 2.0 protocol surface (RFC 7643, RFC 7644) under /scim/v2."""
