"""`policy validate FILE`: offline (no server, no database, no app), every problem reported as
FILE:LINE: path: message, exit status 0 / 1 / 2 for CI; and the documented example, which must
validate and match docs/policy.schema.json, so the docs cannot rot."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scim_authz.cli_policy import policy_cli
from scim_authz.policy.as_code import document
from tests.governance._policy import EXAMPLE, SCHEMA, SMALL, write


def validate(*paths: str):
    return CliRunner().invoke(policy_cli, ["validate", *paths])


def test_the_documented_example_validates_with_every_assertion_held():
    r = validate(str(EXAMPLE))
    assert r.exit_code == 0, r.output
    assert "valid (5 roles, 14 assertions held)" in r.output


def test_the_docs_show_the_example_file_as_it_is():
    doc = (EXAMPLE.parents[1] / "policy-as-code.md").read_text()
    shown = doc.split("```yaml\n", 1)[1].split("```\n", 1)[0]
    assert shown == EXAMPLE.read_text()


def test_the_example_matches_the_json_schema_and_broken_files_do_not():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    example = yaml.safe_load(EXAMPLE.read_text())
    assert not list(validator.iter_errors(example))
    for broken in ({**example, "roles": [{"permissions": []}]}, {**example, "surprise": 1},
                   {**example, "group_mappings": [{"group": {"id": "x"}, "role": "viewer"}]},
                   {k: v for k, v in example.items() if k != "version"}):
        assert list(validator.iter_errors(broken)), broken


def test_the_json_schema_names_exactly_the_fields_the_loader_takes():
    schema = json.loads(SCHEMA.read_text())
    top = {f.data_key or name for name, f in document.PolicyFile().fields.items()}
    assert set(schema["properties"]) == top
    defs = schema["$defs"]
    for name, marshmallow in (("role", document.RoleSpec), ("groupMapping", document.MappingSpec),
                              ("assignment", document.AssignmentSpec), ("resource", document.ResourceSpec),
                              ("fixtureUser", document.FixtureUser), ("fixtureGroup", document.FixtureGroup),
                              ("fixtures", document.Fixtures), ("assertion", document.AssertionSpec)):
        assert set(defs[name]["properties"]) == set(marshmallow().fields), name


BROKEN = [
    # (what is wrong, the file's text, the line, a part of the message)
    ("a permission no check can ask", "version: 1\nroles:\n  - key: signer\n    permissions: [document:sign-off]\n",
     4, "roles[0].permissions[0]: the action 'sign-off' can never be checked"),
    ("extends names no role", "version: 1\nroles:\n  - key: a\n  - key: b\n    extends: [c]\n",
     5, "roles[1].extends[0]: no role 'c' in this file"),
    ("a mapping names no role", "version: 1\nroles: []\ngroup_mappings:\n  - group: Eng\n    role: ghost\n",
     5, "group_mappings[0].role: no role 'ghost' in this file"),
    ("an assignment names no role", "version: 1\nroles: []\nassignments:\n  - {user: ann, role: ghost}\n",
     4, "assignments[0].role: no role 'ghost' in this file"),
    ("the default role is not defined", "version: 1\ndefault_role: boss\nroles: []\n",
     2, "default_role: no role 'boss' in this file"),
    ("a condition that does not compile", "version: 1\nroles:\n  - key: a\n    condition: user.x ==\n",
     4, "roles[0].condition: the condition is not valid"),
    ("roles extending each other", "version: 1\nroles:\n  - {key: a, extends: [b]}\n  - {key: b, extends: [a]}\n",
     3, "cycle"),
    ("a schema that does not compile", "version: 1\nroles: []\nschema: |\n  entity doc {\n"
     "    permission view = nothing\n  }\n", 5, "schema: unknown relation or permission 'nothing'"),
    ("a relationship the schema lacks", "version: 1\nroles: []\nschema: |\n  entity doc {\n    relation owner @user\n"
     "  }\nrelationships:\n  - doc:1#viewer@user:ann\n", 8, "doc has no relation 'viewer'"),
    ("a relationship that is not one", "version: 1\nroles: []\nrelationships:\n  - doc:1 owner ann\n",
     4, "relationships[0]: must be"),
    ("an unknown field", "version: 1\nroles:\n  - key: a\n    permision: [x:y]\n", 4,
     "roles[0].permision: Unknown field."),
    ("no version", "roles: []\n", 1, "version: Missing data for required field."),
    ("a key twice", "version: 1\nroles: []\nroles: []\n", 3, "the key 'roles' appears twice"),
    ("not YAML", "version: 1\nroles: [\n", 3, "not valid YAML"),
    ("a fixture user in a group not defined", "version: 1\nroles: []\nfixtures:\n  users:\n"
     "    - {userName: ann, groups: [Ghosts]}\n", 5, "no fixture group 'Ghosts'"),
    ("an assertion that fails", "version: 1\nroles:\n  - {key: viewer, permissions: [doc:view]}\nfixtures:\n"
     "  users: [{userName: ann}]\nassignments:\n  - {user: ann, role: viewer}\nassertions:\n"
     "  - {user: ann, action: view, resource: doc:1, expect: allow}\n"
     "  - {user: ann, action: edit, resource: doc:1, expect: allow}\n",
     10, "assertion failed: ann may edit doc:1: expected allow, got deny (denied: no role"),
]


@pytest.mark.parametrize("what, text, line, message", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_file_fails_with_its_line_and_what_was_expected(tmp_path, what, text, line, message):
    path = write(tmp_path, text)
    r = validate(path)
    assert r.exit_code == 1, r.output
    assert any(out.startswith(f"{path}:{line}: ") and message in out for out in r.output.splitlines()), r.output


def test_every_file_is_validated_and_every_problem_listed(tmp_path):
    bad = write(tmp_path, "version: 1\nroles:\n  - {key: a, extends: [x]}\n  - {key: b, extends: [y]}\n", "bad.yaml")
    r = validate(str(EXAMPLE), bad)
    assert r.exit_code == 1
    assert f"{bad}:3: roles[0].extends[0]" in r.output and f"{bad}:4: roles[1].extends[0]" in r.output
    assert f"{EXAMPLE}: valid" in r.output and "1 of 2 file(s) did not validate" in r.output


def test_an_unreadable_file_or_no_file_is_a_usage_error(tmp_path):
    assert validate(str(tmp_path / "missing.yaml")).exit_code == 2
    not_text = tmp_path / "binary.yaml"
    not_text.write_bytes(b"version: 1\nroles: [\xff]\n")
    r = validate(str(not_text))
    assert r.exit_code == 2 and "cannot read" in r.output
    assert validate().exit_code == 2


def test_values_no_store_can_keep_are_refused_with_their_line(tmp_path):
    r = validate(write(tmp_path, 'version: 1\nroles: []\nresources:\n  - {type: a, id: b, attributes: {x: "\\0"}}\n'))
    assert r.exit_code == 1 and ":4: resources[0].attributes.x: holds a NUL" in r.output
    r = validate(write(tmp_path, "version: 1\nroles: &r []\nfixtures: {users: *r}\n"))
    assert r.exit_code == 1 and "anchors are not supported" in r.output


def test_validate_needs_no_database_and_makes_no_app(tmp_path):
    """The console script, with a database that cannot be reached and an instance folder that
    cannot be made: it reads the file and the engine, nothing else."""
    script = Path(sys.executable).parent / "scim-authz"
    good, bad = str(EXAMPLE), write(tmp_path, SMALL.replace("extends: [viewer]", "extends: [viewr]"))
    env = {**os.environ, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none",
           "SCIM_AUTHZ_INSTANCE": str(tmp_path / "no" / "such" / "folder")}
    env.pop("FLASK_APP", None)
    done = subprocess.run([str(script), "policy", "validate", good], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([str(script), "policy", "validate", bad], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and f"{bad}:10: roles[1].extends[0]: no role 'viewr'" in done.stdout, done.stdout
    assert not (tmp_path / "no").exists()


def test_validate_is_also_a_command_of_the_apps_cli(runner):
    r = runner.invoke(args=["policy", "validate", str(EXAMPLE)])
    assert r.exit_code == 0, r.output
