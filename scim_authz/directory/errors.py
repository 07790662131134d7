"""Directory errors: what went wrong in terms of users, groups and members, not of any protocol."""


class DirectoryError(Exception):
    """Root of directory errors."""


class ResourceNotFound(DirectoryError):
    """No user or group with that id in the tenant."""


class Conflict(DirectoryError):
    """A unique value (userName) is already taken in the tenant."""


class ValueTooLong(DirectoryError):
    """A value is longer than the directory keeps (userName, externalId, displayName: 256)."""


class UnknownMembers(DirectoryError):
    """A membership names ids that are neither users nor groups of the tenant."""

    def __init__(self, ids):
        self.ids = sorted(ids)
        super().__init__(f"no User or Group with id {', '.join(self.ids)} in this tenant")


class InvalidMembership(DirectoryError):
    """A membership that cannot be: a group in itself, or a cycle of nested groups."""
