"""What every HTTP edge (SCIM, /v1, the console) reads from a request in the same way."""
