"""The console's pure parts (sign-in throttle, chart geometry, form parsing) and the `admins` commands."""
from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from scim_authz.admin import forms
from scim_authz.admin.charts import bar_chart, nice_top
from scim_authz.db.models import Admin
from tests.admin.conftest import PASSWORD, Console
from tests.api._api_helpers import count, rows


@pytest.mark.parametrize("n, top", [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (499, 500), (501, 1000)])
def test_nice_top(n, top):
    assert nice_top(n) == top


def test_bar_chart_scales_bars_to_the_top():
    chart = bar_chart([("2026-01", 0), ("2026-02", 5), ("2026-03", 10)], width=340, height=124, pad_left=40,
                      pad_bottom=24, pad_top=0)
    assert chart.top == 10 and chart.baseline == 100
    heights = [b.height for b in chart.bars]
    assert heights == [0, 50, 100]
    assert [b.y for b in chart.bars] == [100, 50, 0]
    assert chart.bars[0].x < chart.bars[1].x < chart.bars[2].x
    assert bar_chart([]).bars == []


def test_role_form_names_the_line_of_a_bad_permission():
    data = forms.role_input(MultiDict([("key", " editor "), ("permissions", "doc:view\n\nbad one\n"),
                                       ("extends", "viewer"), ("condition", "")]))
    role, errors = forms.validate_role(data)
    assert role["key"] == "editor" and role["permissions"] == ["doc:view", "bad one"] and role["condition"] is None
    assert errors == {"permissions": ['line 3: “bad one” must be "resource_type:action", "resource_type:*" or "*"']}


@pytest.mark.parametrize("text, expected", [("", (None, None)), ("document:42", (("document", "42"), None)),
                                            ("doc", (None, forms.RESOURCE_HINT)),
                                            ("a b:c", (None, forms.RESOURCE_HINT))])
def test_parse_resource(text, expected):
    assert forms.parse_resource(text) == expected


# ---- the admins command group ----------------------------------------------------------------

def test_create_admins_from_the_command_line_and_sign_in(app, runner, client, tenant):
    r = runner.invoke(args=["admins", "create", "Ops@Acme.test", "--tenant", "acme"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0, r.output
    assert "created admin ops@acme.test (tenant acme)" in r.output
    r = runner.invoke(args=["admins", "create", "root@ops.test", "--super", "--password-stdin"], input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert rows(app, Admin, email="root@ops.test")[0].tenant_id is None
    listing = runner.invoke(args=["admins", "list"]).output
    assert "ops@acme.test\tacme" in listing and "root@ops.test\t(super-admin)" in listing and "never" in listing
    assert Console(client).login("ops@acme.test").status_code == 302
    assert PASSWORD not in str(rows(app, Admin, email="ops@acme.test")[0].password_hash)


@pytest.mark.parametrize("args, stdin, message", [
    (["admins", "create", "a@acme.test"], PASSWORD + "\n", "give either --tenant KEY or --super"),
    (["admins", "create", "a@acme.test", "--tenant", "acme", "--super"], "", "give either --tenant KEY or --super"),
    (["admins", "create", "a@acme.test", "--tenant", "nope", "--password-stdin"], PASSWORD + "\n", "no tenant 'nope'"),
    (["admins", "create", "not-an-email", "--super", "--password-stdin"], PASSWORD + "\n", "is not an email address"),
    (["admins", "create", "a@acme.test", "--super", "--password-stdin"], "short\n", "at least 12 characters"),
    (["admins", "create", "a@acme.test", "--super"], f"{PASSWORD}\nother password!!\n" * 3, "do not match"),
])
def test_admins_create_refuses_clearly(app, runner, tenant, args, stdin, message):
    r = runner.invoke(args=args, input=stdin)
    assert r.exit_code != 0 and message in r.output, r.output
    assert count(app, Admin) == 0


def test_an_email_is_one_admin(app, runner, tenant):
    args = ["admins", "create", "a@acme.test", "--super", "--password-stdin"]
    assert runner.invoke(args=args, input=PASSWORD + "\n").exit_code == 0
    r = runner.invoke(args=["admins", "create", "A@ACME.test", "--tenant", "acme", "--password-stdin"],
                      input=PASSWORD + "\n")
    assert r.exit_code != 0 and "already exists" in r.output


def test_an_unknown_console_address_answers_with_a_page(client):
    r = client.get("/admin/no-such-page")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/html")
    assert b"Back to the console" in r.data
