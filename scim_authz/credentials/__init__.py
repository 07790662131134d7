"""Who may call: SCIM tokens and API keys and their cache, console admin accounts, end-user JWT
verification, and the safe fetcher of identity providers' keys."""
