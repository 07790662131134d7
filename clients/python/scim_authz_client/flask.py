"""Flask integration: a `ScimAuthz` extension whose `require` decorator checks each request.

    authz = ScimAuthz(app)          # SCIM_AUTHZ_URL and SCIM_AUTHZ_API_KEY from app.config

    @app.get("/documents/<doc_id>")
    @authz.require("edit", resource=lambda doc_id: f"document:{doc_id}")
    def edit(doc_id): ...

The end user is whatever the user loader returns (by default the request's own bearer token, passed
through as {"jwt": token} for the server to verify). No user is 401, a denial 403, both JSON in the
/v1 error shape; the view runs only when allowed, with the decision on `flask.g.authz_decision`.
Needs the `flask` extra: `pip install "scim-authz-client[flask]"`.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app, g, jsonify, request
from werkzeug.exceptions import Forbidden, HTTPException, ServiceUnavailable, Unauthorized

from scim_authz_client.cache import DecisionCache
from scim_authz_client.client import Client
from scim_authz_client.errors import AuthenticationError, InvalidRequest, ServerError, ServerUnavailable
from scim_authz_client.results import CheckResult, SyncResult

log = logging.getLogger("scim_authz_client")
EXTENSION = "scim_authz"
UserLoader = Callable[[], Any]
# What a failed-closed check answers (SCIM_AUTHZ_FAILED_CLOSED_STATUS): a denial, or "try again".
_FAILED_CLOSED = {403: Forbidden, 503: ServiceUnavailable}


def bearer_token() -> dict | None:
    """The default user loader: the request's `Authorization: Bearer <jwt>` as {"jwt": token} (the
    handoff: the server verifies the token per the tenant's settings and syncs its user), else None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return {"jwt": token} if scheme.lower() == "bearer" and token else None


def error_response(exc: type[HTTPException], code: str, message: str, **extra: Any) -> HTTPException:
    """An HTTP error whose body is the /v1 error shape, {"error": {status, code, message, ...}}.
    Raised rather than returned, so the app's own @errorhandler(403) can still replace it."""
    status = exc.code
    response = jsonify({"error": {"status": status, "code": code, "message": message, **extra}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return exc(description=message, response=response)


class ScimAuthz:
    """The extension. Give it a `client` (a Client, shared by every app this extension serves), or
    let `init_app` build one per app from its config:

    SCIM_AUTHZ_URL, SCIM_AUTHZ_API_KEY   the server and the tenant's API key (required)
    SCIM_AUTHZ_TIMEOUT                   seconds per request (default 5)
    SCIM_AUTHZ_CACHE                     True, or {"max_entries": n, "ttl_seconds": s}: a DecisionCache
    SCIM_AUTHZ_FAILED_CLOSED_STATUS      403 (default) or 503 when a check could not be decided
    """

    def __init__(self, app: Flask | None = None, *, client: Client | None = None):
        self._client = client
        self._load_user: UserLoader = bearer_token
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        client = self._client
        if client is None:
            url, key = app.config.get("SCIM_AUTHZ_URL"), app.config.get("SCIM_AUTHZ_API_KEY")
            if not url or not key:
                raise RuntimeError("ScimAuthz needs SCIM_AUTHZ_URL and SCIM_AUTHZ_API_KEY in app.config, "
                                   "or a client: ScimAuthz(app, client=Client(...))")
            client = Client(url, key, timeout=float(app.config.get("SCIM_AUTHZ_TIMEOUT", 5.0)),
                            cache=_cache_of(app.config.get("SCIM_AUTHZ_CACHE")))
        status = int(app.config.get("SCIM_AUTHZ_FAILED_CLOSED_STATUS", 403))
        if status not in _FAILED_CLOSED:
            raise ValueError("SCIM_AUTHZ_FAILED_CLOSED_STATUS must be 403 or 503")
        app.extensions[EXTENSION] = _State(client, _FAILED_CLOSED[status])

    @property
    def client(self) -> Client:
        """The Client of the current app (or the one this extension was given)."""
        return self._state().client

    def _state(self) -> _State:
        state = current_app.extensions.get(EXTENSION)
        if state is None:
            raise RuntimeError("ScimAuthz.init_app(app) was not called for this app")
        return state

    def user_loader(self, fn: UserLoader) -> UserLoader:
        """Register the function that names the request's end user: a user id or userName, or
        {"jwt": token}; None when there is none (answered 401). Usable as a decorator."""
        self._load_user = fn
        return fn

    def require(self, action: str, resource: str | Mapping | Callable[..., Any], *,
                context: Mapping | Callable[..., Mapping | None] | None = None) -> Callable:
        """Decorate a view so it runs only if the end user may `action` on `resource`.

        `resource` is "type:id", a {"type", "id", "attributes"} mapping, or a callable given the
        view's keyword arguments (its URL variables) that returns one; `context` likewise. One check
        per call of the view; the decision is on `flask.g.authz_decision`."""
        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                g.authz_decision = self._decide(action, _resolve(resource, kwargs), _resolve(context, kwargs))
                return current_app.ensure_sync(view)(*args, **kwargs)
            return wrapper
        return decorator

    def _decide(self, action: str, resource: Any, context: Mapping | None) -> CheckResult:
        """Ask once; return an allowing decision or raise the 401/403/503 to answer instead."""
        state = self._state()
        user = self._load_user()
        if user is None or user == "":
            raise error_response(Unauthorized, "unauthenticated", "this request names no user")
        try:
            decision = state.client.check(user, action, resource, context=dict(context) if context else None)
        except AuthenticationError as err:
            if err.code != "invalid_user_token":
                raise  # the app's own API key was refused: a misconfiguration, not the end user's doing
            raise error_response(Unauthorized, "invalid_user_token", err.message) from err
        except InvalidRequest as err:  # what the request names cannot be asked about (an id with a space...): deny
            log.warning("scim-authz refused to check %s: %s", action, err)
            raise error_response(Forbidden, "forbidden", f"the check could not be asked: {err.message}") from err
        except (ServerUnavailable, ServerError) as err:  # a client built with fail_closed=False
            log.warning("scim-authz check of %s on %s could not be made: %s", action, _name_of(resource), err)
            raise _failed_closed(state) from err
        if decision.failed_closed:  # the client logged why
            raise _failed_closed(state)
        if not decision.allowed:
            raise error_response(Forbidden, "forbidden", f"not allowed to {action} {_name_of(resource)}",
                                 decision_id=decision.decision_id)
        return decision

    def sync_user_after_login(self, key: str, **attributes: Any) -> SyncResult:
        """The handoff: create or update the user right after your login (key: your IdP's stable
        id; userName, email, displayName, roles, attributes, ...), so its first check finds it."""
        return self.client.sync_user(key, **attributes)


class _State:
    """What init_app keeps per app, in app.extensions["scim_authz"]."""

    def __init__(self, client: Client, failed_closed: type[HTTPException]):
        self.client = client
        self.failed_closed = failed_closed


def _failed_closed(state: _State) -> HTTPException:
    """The answer when no decision could be had; why (the server's address, the error) is logged, not told."""
    return error_response(state.failed_closed, "forbidden" if state.failed_closed is Forbidden else "unavailable",
                          "the authorization decision could not be made", decision_id=None)


def _resolve(value: Any, kwargs: dict) -> Any:
    return value(**kwargs) if callable(value) else value


def _name_of(resource: Any) -> str:
    if isinstance(resource, Mapping):
        return f"{resource.get('type')}:{resource.get('id')}"
    return str(resource)


def _cache_of(setting: Any) -> DecisionCache | None:
    if not setting:
        return None
    if setting is True:
        return DecisionCache()
    if isinstance(setting, DecisionCache):
        return setting
    return DecisionCache(**setting)
