"""Governance: who changed what (the administrative change log), access reviews, policy as code."""
