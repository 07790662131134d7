"""A policy file validated offline, with no server and no database: its text parses, its shape
is right, every reference resolves, and every assertion holds against the real engine in memory.
`policy validate`, `policy diff`, `policy apply` and the /v1 endpoints all start here."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scim_authz.policy.as_code.document import Policy, load_policy
from scim_authz.policy.as_code.fixtures import Outcome, assertion_findings, run_assertions
from scim_authz.policy.as_code.references import reference_findings
from scim_authz.policy.as_code.source import Finding, SourceError, parse
from scim_authz.policy.errors import InvalidInput


class PolicyFileInvalid(InvalidInput):
    """A policy file that does not validate; details list each finding (line, path, message)."""

    code = "invalid_policy"


@dataclass
class Report:
    """What validating a file found: the policy (when its shape was right), the findings, and each
    assertion's outcome (run only when nothing else was wrong)."""

    policy: Policy | None
    findings: list[Finding] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.policy is not None and not self.findings

    def lines(self, filename: str) -> list[str]:
        return [f.render(filename) for f in self.findings]

    def raise_unless_ok(self) -> Policy:
        """The policy, or PolicyFileInvalid naming every finding: nothing may be applied."""
        if not self.ok:
            n = len(self.findings)
            raise PolicyFileInvalid(f"the policy file is not valid ({n} problem{'s' if n != 1 else ''}); nothing was "
                                    "applied", details=[f.to_dict() for f in self.findings])
        return self.policy


def read_text(path: str | Path) -> str:
    """A file's text (UTF-8); OSError or UnicodeDecodeError when it cannot be read."""
    return Path(path).read_bytes().decode("utf-8-sig")


def validate_data(data: Any) -> Report:
    """Validate parsed data (a YAML file's, or a JSON body's)."""
    policy, findings = load_policy(data)
    if policy is None:
        return Report(None, findings)
    findings = reference_findings(policy)
    if findings:
        return Report(policy, findings)
    outcomes = run_assertions(policy)
    return Report(policy, assertion_findings(policy, outcomes), outcomes)


def validate_text(text: str) -> Report:
    """Validate a file's text: YAML (or JSON)."""
    try:
        data = parse(text)
    except SourceError as e:
        return Report(None, [e.finding])
    return validate_data(data)
