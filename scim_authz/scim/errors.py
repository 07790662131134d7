"""SCIM errors, one class per row of RFC 7644 §3.12's error table, rendered in scim_authz/http_errors.py."""
from __future__ import annotations


class SCIMError(Exception):
    """Root of every SCIM protocol error; carries the HTTP status and the scimType."""

    status = 400
    scim_type: str | None = None

    def __init__(self, detail: str = "", *, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status

    def body(self) -> dict:
        """The RFC 7644 §3.12 error body."""
        b = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": str(self.status)}
        if self.scim_type:
            b["scimType"] = self.scim_type
        if self.detail:
            b["detail"] = self.detail
        return b


class InvalidFilter(SCIMError):
    """The specified filter syntax was invalid or the attribute and comparison combination is not supported."""
    scim_type = "invalidFilter"


class TooMany(SCIMError):
    """The filter yields more results than the server is willing to calculate or process."""
    scim_type = "tooMany"


class Uniqueness(SCIMError):
    """One or more of the attribute values are already in use or are reserved."""
    status = 409
    scim_type = "uniqueness"


class Mutability(SCIMError):
    """The attempted modification is not compatible with the target attribute's mutability."""
    scim_type = "mutability"


class InvalidSyntax(SCIMError):
    """The request body message structure was invalid or did not conform to the request schema."""
    scim_type = "invalidSyntax"


class InvalidPath(SCIMError):
    """The "path" attribute was invalid or malformed."""
    scim_type = "invalidPath"


class NoTarget(SCIMError):
    """The specified "path" did not yield an attribute or attribute value that could be operated on."""
    scim_type = "noTarget"


class InvalidValue(SCIMError):
    """A required value was missing, or the value specified was not compatible with the operation or attribute type."""
    scim_type = "invalidValue"


class InvalidVersion(SCIMError):
    """The specified SCIM protocol version is not supported."""
    scim_type = "invalidVers"


class Sensitive(SCIMError):
    """The request cannot be completed because of sensitive information in the request URI."""
    status = 403
    scim_type = "sensitive"


class Unauthorized(SCIMError):
    """Authorization failure: no valid bearer token."""
    status = 401


class Forbidden(SCIMError):
    """The credential is valid but may not perform this operation."""
    status = 403


class NotFound(SCIMError):
    """The resource or endpoint does not exist (in the caller's tenant)."""
    status = 404


class MethodNotAllowed(SCIMError):
    """The endpoint does not support this HTTP method."""
    status = 405


class PreconditionFailed(SCIMError):
    """If-Match did not match the resource's current version."""
    status = 412


class PayloadTooLarge(SCIMError):
    """The request exceeds an announced limit (bulk maxPayloadSize or maxOperations)."""
    status = 413


class TooManyRequests(SCIMError):
    """The caller is over a rate limit (scim_authz/web/rate_limit.py); Retry-After says when to come back."""
    status = 429


class NotImplementedFeature(SCIMError):
    """The requested operation is not supported."""
    status = 501
