"""Which of a tenant's roles grant a permission, as the bits of one integer.

A check then asks one small tenant-wide dict and ANDs the answer with the user's own mask of
tenant-wide roles, instead of asking each of the user's roles' permission sets in turn: at
100,000 users, those sets are rarely in the CPU's cache when a user's check comes, and a denial
had to ask every one of them (three times, for the wildcards).
"""
from __future__ import annotations

from collections.abc import Mapping

from scim_authz.authz.model import RoleDef


class PermIndex:
    """`granting(rtype, perm)`: the bits of the roles whose permissions (inherited ones included)
    give `perm`, its type's `rtype:*`, or `*`."""

    __slots__ = ("bits", "wild", "star", "role_bit")

    def __init__(self, roles: Mapping[str, RoleDef], role_bit: dict[str, int]):
        """`role_bit` (role key -> its bit) is kept by the store across rebuilds and only grows: a
        new role takes a new bit and a deleted role's is never given to another, so a user's mask
        made before a rebuild never names a different role."""
        bits: dict[str, int] = {}
        wild: dict[str, int] = {}
        star = 0
        for key, role in roles.items():
            b = role_bit.get(key)
            if b is None:
                b = role_bit[key] = 1 << len(role_bit)
            for p in role.permissions:
                if p == "*":
                    star |= b
                    continue
                rtype, _, action = p.partition(":")
                if action == "*":
                    wild[rtype] = wild.get(rtype, 0) | b
                else:
                    bits[p] = bits.get(p, 0) | b
        self.bits, self.wild, self.star, self.role_bit = bits, wild, star, role_bit

    def granting(self, rtype: str, perm: str) -> int:
        m = self.bits.get(perm, 0)
        if self.wild or self.star:
            m |= self.wild.get(rtype, 0) | self.star
        return m

    def bit(self, role_key: str) -> int:
        return self.role_bit[role_key]
