"""The AuthZEN Authorization API 1.0 calls (POST /access/v1/evaluation and /evaluations): the
entities in their 1.0 shape, and shorthands for them, with no IO (protocol.Core drives the calls).

    client.evaluate("ann@example.com", "edit", "document:42")
    client.evaluate({"type": "user", "id": "00u1ann", "properties": {"dept": "finance"}},
                    {"name": "approve"}, {"type": "invoice", "id": "7", "properties": {"amount": 500}})

A subject given as a string is a user; an action as a string is its name; a resource as "type:id".
AuthZEN has no `at_least`: these calls do not wait for this client's own writes (checks do).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One AuthZEN decision: `decision`, and its `context` (the reason, when asked to explain, or the
    error of a batch item that was not a valid request). `failed_closed`: the client's own denial,
    made because the server could not answer."""

    decision: bool
    context: dict | None = None
    failed_closed: bool = False

    @classmethod
    def from_json(cls, body: Mapping) -> Evaluation:
        return cls(decision=body.get("decision") is True, context=body.get("context"))

    @classmethod
    def denied(cls, reason: str) -> Evaluation:
        return cls(decision=False, context={"reason": reason}, failed_closed=True)


def subject(v: Any) -> dict:
    return {"type": "user", "id": v} if isinstance(v, str) else dict(v)


def action(v: Any) -> dict:
    return {"name": v} if isinstance(v, str) else dict(v)


def resource(v: Any) -> dict:
    if isinstance(v, str):
        rtype, sep, rid = v.partition(":")
        if not sep:
            raise ValueError(f'a resource is "type:id" or {{"type", "id"}}, not {v!r}')
        return {"type": rtype, "id": rid}
    return dict(v)


def request(subj: Any, act: Any, res: Any, context: Mapping | None) -> dict:
    body = {"subject": subject(subj), "action": action(act), "resource": resource(res)}
    if context:
        body["context"] = dict(context)
    return body


def batch(items: Iterable[Mapping], defaults: Mapping, semantic: str | None) -> dict:
    """An evaluations body: `defaults` (subject, action, resource, context; any may be absent) and
    each item's own entities, which replace a default whole."""
    if semantic is not None and semantic not in SEMANTICS:
        raise ValueError(f"semantic must be one of {', '.join(SEMANTICS)}")
    shapes = {"subject": subject, "action": action, "resource": resource, "context": dict}
    body: dict = {k: shapes[k](v) for k, v in defaults.items() if v is not None}
    body["evaluations"] = [{k: shapes[k](v) for k, v in item.items() if k in shapes} for item in items]
    if semantic is not None:
        body["options"] = {"evaluations_semantic": semantic}
    return body
