"""Who may call: SCIM tokens and API keys, their cache, console admin accounts, end-user JWT verification and the safe fetcher for identity providers' keys."""
