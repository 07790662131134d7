"""Tenants: one per customer organisation."""
