"""Users and groups as the identity provider pushed them: read-only (the IdP owns the data)."""
from __future__ import annotations

from flask import jsonify, render_template, request
from sqlalchemy import select

from scim_authz import pdp
from scim_authz.admin import bp
from scim_authz.admin import directory_queries as dq
from scim_authz.admin.context import console_view, own, page_arg, tenant_id
from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupRoleMapping, Role, User
from scim_authz.directory.membership_reads import groups_of_users

STATUSES = {"all": "All", "active": "Active", "inactive": "Deactivated"}
# Attributes worth showing from the SCIM document, in this order, with a label.
SHOWN = [("externalId", "External id"), ("title", "Title"), ("preferredLanguage", "Language"),
         ("locale", "Locale"), ("timezone", "Time zone")]
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@bp.get("/users")
@console_view()
def users():
    q = request.args.get("q", "").strip()
    status = request.args.get("status", "all")
    status = status if status in STATUSES else "all"
    page = dq.search_users(tenant_id(), q, status, page_arg())
    return render_template("admin/users.html", page=page, q=q, status=status, statuses=STATUSES)


@bp.get("/users/search.json")
@console_view()
def users_search():
    """For the playground's user picker: the first 20 users whose userName contains q."""
    page = dq.search_users(tenant_id(), request.args.get("q", "").strip(), "all", 1, size=20)
    return jsonify([{"id": u.id, "userName": u.user_name, "displayName": u.display_name, "active": u.active}
                    for u in page.rows])


def _primary(values) -> str | None:
    if not isinstance(values, list) or not values:
        return None
    first = next((v for v in values if isinstance(v, dict) and v.get("primary")), values[0])
    return first.get("value") if isinstance(first, dict) else None


@bp.get("/users/<user_id>")
@console_view()
def user_detail(user_id):
    user = own(db.session.get(User, user_id), "user")
    doc = user.doc or {}
    details = [(label, doc.get(k) if k != "externalId" else user.external_id) for k, label in SHOWN]
    details.insert(0, ("Email", _primary(doc.get("emails"))))
    ent = doc.get(ENTERPRISE) or {}
    details += [(label, ent.get(k)) for k, label in (("department", "Department"),
                                                     ("employeeNumber", "Employee number"))]
    groups = groups_of_users(tenant_id(), [user.id])[user.id]
    effective = pdp.engine().permissions(tenant_id(), user.id) or {"roles": [], "permissions": []}
    return render_template("admin/user.html", user=user, details=[d for d in details if d[1]],
                           groups=groups, effective=effective)


@bp.get("/groups")
@console_view()
def groups():
    q = request.args.get("q", "").strip()
    page = dq.search_groups(tenant_id(), q, page_arg())
    return render_template("admin/groups.html", page=page, q=q)


@bp.get("/groups/<group_id>")
@console_view()
def group_detail(group_id):
    group = own(db.session.get(Group, group_id), "group")
    members = dq.members_page(group, page_arg())
    mappings = db.session.execute(select(GroupRoleMapping, Role.key).join(Role, Role.id == GroupRoleMapping.role_id)
                                  .where(GroupRoleMapping.group_id == group.id)
                                  .order_by(Role.key)).all()
    return render_template("admin/group.html", group=group, members=members, parents=dq.parent_groups(group),
                           mappings=mappings)
