"""SCIM filters (RFC 7644 §3.4.2.2) and sortBy (§3.4.2.3) compiled to SQL, run against the test database."""
from __future__ import annotations

from datetime import datetime

import pytest
from scim2_filter_parser import ast
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from scim_authz.db.extensions import db
from scim_authz.db.models import Group, GroupMember, Tenant, User
from scim_authz.scim.errors import InvalidFilter
from scim_authz.scim.filters import build_filter, parse_filter, sort_expression

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
MANAGER = "26118915-6090-4610-87e4-49d8ca9f808d"

U_BJ, U_JS, U_JD, U_NM = (f"10000000-0000-4000-8000-00000000000{i}" for i in range(1, 5))
G_ENG, G_PLAT, G_SALES = (f"20000000-0000-4000-8000-00000000000{i}" for i in range(1, 4))

# Users whose names exercise LIKE metacharacters; they have no emails, userType or title.
LIKE_USERS = {"a%b", "axb", "a_b", "aab", "a/b"}
ALL = {"bjensen", "JSmith", "jdoe", "nomail"} | LIKE_USERS


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s)


USERS = [
    dict(id=U_BJ, user_name="bjensen", external_id="BJ-001", active=True, display_name="Babs Jensen",
         created=_t("2010-01-23T04:56:22"), last_modified=_t("2011-05-13T04:42:34"),
         doc={"userName": "bjensen", "externalId": "BJ-001", "displayName": "Babs Jensen", "nickName": "Babs",
              "name": {"givenName": "Barbara", "familyName": "Jensen"}, "title": "Tour Guide",
              "userType": "Employee", "active": True,
              "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
                         {"value": "babs@jensen.org", "type": "home"}],
              "ims": [{"value": "bjensen@chat.test", "type": "aim"}],
              "addresses": [{"type": "work", "locality": "Hollywood"}],
              ENT: {"employeeNumber": "701984", "manager": {"value": MANAGER}}}),
    dict(id=U_JS, user_name="JSmith", external_id="js-002", active=False, display_name="John Smith",
         created=_t("2010-02-01T00:00:00"), last_modified=_t("2011-05-13T04:42:35"),
         doc={"userName": "JSmith", "externalId": "js-002", "displayName": "John Smith", "active": False,
              "name": {"givenName": "John", "familyName": "O'Malley"}, "title": "Intern", "userType": "Intern",
              # The primary email is not the first: sortBy=emails must pick it.
              "emails": [{"value": "zz@other.test", "type": "other"},
                         {"value": "AAA@Example.ORG", "type": "home", "primary": True}]}),
    dict(id=U_JD, user_name="jdoe", active=True, created=_t("2010-03-01T00:00:00"),
         last_modified=_t("2011-05-13T04:42:33"),
         # The work email is not at example.com, the home one is: same-element semantics matter.
         doc={"userName": "jdoe", "userType": "Employee", "title": "",
              "emails": [{"value": "jdoe@example.com", "type": "home"},
                         {"value": "jd@corp.test", "type": "work", "primary": False}],
              ENT: {"employeeNumber": "701985"}}),
    dict(id=U_NM, user_name="nomail", active=True, created=_t("2010-04-01T00:00:00"),
         last_modified=_t("2012-01-01T00:00:00"),
         doc={"userName": "nomail", "name": {"givenName": "Nora"},
              "ims": [{"value": "nomail@foo.com", "type": "xmpp"}]}),
    *(dict(user_name=n, active=True, created=_t("2009-01-01T00:00:00"), last_modified=_t("2009-01-01T00:00:00"),
           doc={"userName": n, **({"nickName": 'say "hi"'} if n == "aab" else {})}) for n in sorted(LIKE_USERS)),
]


def _seed_tenant(key: str, ids: bool) -> int:
    """One tenant's directory; the second tenant gets the same names (ids must differ: they are global)."""
    t = Tenant(key=key, name=key, settings={}, revision=0)
    db.session.add(t)
    db.session.flush()
    uid = {}
    for u in USERS:
        u = dict(u)
        if not ids:
            u.pop("id", None)
        user = User(tenant_id=t.id, user_name_ci=u["user_name"].lower(), **u)
        db.session.add(user)
        db.session.flush()
        uid[u["user_name"]] = user.id
    groups = {}
    for gid, name, ext in ((G_ENG, "Engineering", "ENG"), (G_PLAT, "Platform", None), (G_SALES, "Sales", None)):
        g = Group(tenant_id=t.id, display_name=name, display_name_ci=name.lower(), external_id=ext,
                  doc={"displayName": name, **({"externalId": ext} if ext else {})}, **({"id": gid} if ids else {}))
        db.session.add(g)
        db.session.flush()
        groups[name] = g.id
    # Engineering: bjensen and the Platform group; Platform: jdoe (so jdoe is in Engineering indirectly).
    for group, member, kind in (("Engineering", uid["bjensen"], "User"), ("Engineering", groups["Platform"], "Group"),
                                ("Platform", uid["jdoe"], "User")):
        db.session.add(GroupMember(group_id=groups[group], member_id=member, member_type=kind, tenant_id=t.id))
    db.session.flush()
    return t.id


@pytest.fixture
def directory(app):
    """Two tenants with the same directory; yields the first tenant's id inside an app context."""
    with app.app_context():
        t1 = _seed_tenant("t1", ids=True)
        _seed_tenant("t2", ids=False)
        db.session.commit()
        yield t1


def users(tenant_id: int, f: str) -> list[str]:
    q = select(User.user_name).where(User.tenant_id == tenant_id, build_filter(f, "User", db.engine.dialect.name))
    return sorted(db.session.execute(q).scalars())


def groups(tenant_id: int, f: str) -> list[str]:
    q = select(Group.display_name).where(Group.tenant_id == tenant_id,
                                         build_filter(f, "Group", db.engine.dialect.name))
    return sorted(db.session.execute(q).scalars())


RFC_EXAMPLES = [  # RFC 7644 §3.4.2.2, the example filters
    ('userName eq "bjensen"', {"bjensen"}),
    ('name.familyName co "O\'Malley"', {"JSmith"}),
    ('userName sw "J"', {"JSmith", "jdoe"}),
    (f'{CORE_USER}:userName sw "J"', {"JSmith", "jdoe"}),
    ("title pr", {"bjensen", "JSmith"}),  # jdoe's title is "": not present
    ('meta.lastModified gt "2011-05-13T04:42:34Z"', {"JSmith", "nomail"}),
    ('meta.lastModified ge "2011-05-13T04:42:34Z"', {"bjensen", "JSmith", "nomail"}),
    ('meta.lastModified lt "2011-05-13T04:42:34Z"', {"jdoe"} | LIKE_USERS),
    ('meta.lastModified le "2011-05-13T04:42:34Z"', {"bjensen", "jdoe"} | LIKE_USERS),
    ('title pr and userType eq "Employee"', {"bjensen"}),
    ('title pr or userType eq "Intern"', {"bjensen", "JSmith"}),
    (f'schemas eq "{ENT}"', {"bjensen", "jdoe"}),
    ('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', {"bjensen", "jdoe"}),
    ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
     {"nomail"} | LIKE_USERS),
    ('userType eq "Employee" and (emails.type eq "work")', {"bjensen", "jdoe"}),
    ('userType eq "Employee" and emails[type eq "work" and value co "@example.com"]', {"bjensen"}),
    ('emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
     {"bjensen", "nomail"}),
]

USER_CASES = [
    # attribute names and operators are case-insensitive; userName values too
    ('USERNAME eq "BJENSEN"', {"bjensen"}),
    ('username EQ "jsmith"', {"JSmith"}),
    ('userName eq "bjensen" AND title PR', {"bjensen"}),
    (f'{CORE_USER.upper()}:USERNAME eq "jdoe"', {"jdoe"}),
    ('displayName eq "BABS JENSEN"', {"bjensen"}),
    ('userName gt "jdoe"', {"JSmith", "nomail"}),
    # precedence: "and" binds tighter than "or" (and a "not" group is one operand)
    ('userName eq "nomail" or userName eq "bjensen" and userType eq "Intern"', {"nomail"}),
    ('userType eq "Intern" and userName eq "JSmith" or userName eq "jdoe"', {"JSmith", "jdoe"}),
    ('userName eq "jdoe" or userName eq "nomail" and title pr or userName eq "bjensen"', {"bjensen", "jdoe"}),
    ('(userName eq "nomail" or userName eq "bjensen") and userType eq "Employee"', {"bjensen"}),
    ('not (userName eq "nomail" or emails pr) and userName sw "a" and not (userName co "%")', LIKE_USERS - {"a%b"}),
    # the enterprise extension, URN-qualified
    (f'{ENT}:employeeNumber eq "701984"', {"bjensen"}),
    (f'{ENT.upper()}:EMPLOYEENUMBER sw "7019"', {"bjensen", "jdoe"}),
    (f'{ENT}:manager.value eq "{MANAGER.upper()}"', {"bjensen"}),
    (f'{ENT}:manager.value pr', {"bjensen"}),
    (f'schemas eq "{CORE_USER}"', ALL),
    ('schemas eq "urn:example:nothing"', set()),
    # multi-valued attributes: any element; brackets: one element satisfies all
    ('emails.value ew "@example.com"', {"bjensen", "jdoe"}),
    ('emails[type eq "work"]', {"bjensen", "jdoe"}),
    ('emails[type eq "home" and value co "example.com"]', {"jdoe"}),
    ('emails[type eq "work" and not (value co "example.com")]', {"jdoe"}),
    ('emails.value ne "bjensen@example.com"', ALL - {"bjensen"}),
    ("emails pr", {"bjensen", "JSmith", "jdoe"}),
    ("not (emails pr)", {"nomail"} | LIKE_USERS),
    ("emails[primary eq true]", {"bjensen", "JSmith"}),
    ("emails[primary eq false]", {"jdoe"}),
    ("emails.primary eq true", {"bjensen", "JSmith"}),
    ('addresses[locality eq "hollywood"]', {"bjensen"}),
    ("addresses pr", {"bjensen"}),
    ("name pr", {"bjensen", "JSmith", "nomail"}),
    ('name.givenName sw "b"', {"bjensen"}),
    # Microsoft Entra ID's form: emails[type eq "work"].value eq "..." is one element
    ('emails[type eq "work"].value eq "bjensen@example.com"', {"bjensen"}),
    ('emails[type eq "work"].value eq "jdoe@example.com"', set()),
    ('emails[type eq "work"].value pr', {"bjensen", "jdoe"}),
    # caseExact attributes
    ('externalId eq "BJ-001"', {"bjensen"}),
    ('externalId eq "bj-001"', set()),
    ('externalId co "J-0"', {"bjensen"}),
    ('externalId co "j-0"', set()),
    ('externalId sw "bj"', set()),
    ('externalId ew "-001"', {"bjensen"}),
    (f'id eq "{U_BJ}"', {"bjensen"}),
    ('meta.resourceType eq "User"', ALL),
    ('meta.resourceType eq "Group"', set()),
    # booleans
    ("active eq true", ALL - {"JSmith"}),
    ("active eq false", {"JSmith"}),
    ("active ne true", {"JSmith"}),
    # dateTime with an offset, and a date-time without seconds fraction or zone (UTC)
    ('meta.lastModified eq "2011-05-13T06:42:34+02:00"', {"bjensen"}),
    ('meta.created lt "2010-01-24T00:00:00"', {"bjensen"} | LIKE_USERS),
    # absence: ne and not (...) match it, eq null is "not present", ne null is "present"
    ('not (userType eq "Employee")', ALL - {"bjensen", "jdoe"}),
    ('not (externalId eq "BJ-001")', ALL - {"bjensen"}),
    ('not (title co "i")', ALL - {"bjensen", "JSmith"}),
    ('not (meta.lastModified lt "2011-01-01T00:00:00Z")', ALL - LIKE_USERS),
    ("not (active eq true)", {"JSmith"}),
    ('emails[not (type eq "work")]', {"bjensen", "JSmith", "jdoe"}),
    ("emails[primary ne true]", {"bjensen", "JSmith", "jdoe"}),
    ("emails.primary ne true", ALL - {"bjensen", "JSmith"}),
    (f'schemas ne "{ENT}"', ALL - {"bjensen", "jdoe"}),
    ('schemas co "enterprise"', {"bjensen", "jdoe"}),
    ('nickName ne "babs"', ALL - {"bjensen"}),
    ("title eq null", ALL - {"bjensen", "JSmith"}),
    ("title ne null", {"bjensen", "JSmith"}),
    # LIKE metacharacters in values match literally
    ('userName co "%"', {"a%b"}),
    ('userName co "_"', {"a_b"}),
    ('userName sw "a_"', {"a_b"}),
    ('userName ew "%b"', {"a%b"}),
    ('userName co "/"', {"a/b"}),
    ('userName eq "a_b"', {"a_b"}),
    ('nickName eq "say \\"hi\\""', {"aab"}),
    # groups: direct and through nesting (jdoe is in Engineering via Platform)
    (f'groups.value eq "{G_ENG}"', {"bjensen", "jdoe"}),
    (f'groups eq "{G_PLAT}"', {"jdoe"}),
    (f'groups.value eq "{G_SALES}"', set()),
    ('groups.display eq "PLATFORM"', {"jdoe"}),
    ('groups[display sw "eng"]', {"bjensen", "jdoe"}),
    ("groups pr", {"bjensen", "jdoe"}),
    (f'groups.value ne "{G_PLAT}"', ALL - {"jdoe"}),
]


@pytest.mark.parametrize("f,expected", RFC_EXAMPLES + USER_CASES)
def test_user_filters(directory, f, expected):
    assert users(directory, f) == sorted(expected)


GROUP_CASES = [
    ('displayName eq "engineering"', {"Engineering"}),
    ('displayName co "PLAT"', {"Platform"}),
    (f'{CORE_GROUP}:displayName sw "s"', {"Sales"}),
    ('externalId eq "ENG"', {"Engineering"}),
    (f'id eq "{G_PLAT}"', {"Platform"}),
    (f'members.value eq "{U_JD}"', {"Platform"}),
    (f'members eq "{U_BJ}"', {"Engineering"}),
    (f'members[value eq "{U_BJ}"]', {"Engineering"}),
    ('members.type eq "group"', {"Engineering"}),
    (f'members[type eq "User" and value eq "{U_JD}"]', {"Platform"}),
    (f'members[type eq "Group" and value eq "{U_JD}"]', set()),
    ("members pr", {"Engineering", "Platform"}),
    ("not (members pr)", {"Sales"}),
    (f'members.value ne "{U_BJ}"', {"Platform", "Sales"}),
    (f'schemas eq "{CORE_GROUP}"', {"Engineering", "Platform", "Sales"}),
    (f'schemas eq "{CORE_USER}"', set()),
    ('meta.lastModified pr and displayName ew "S"', {"Sales"}),
]


@pytest.mark.parametrize("f,expected", GROUP_CASES)
def test_group_filters(directory, f, expected):
    assert groups(directory, f) == sorted(expected)


def test_the_filter_does_not_scope_by_tenant(directory):
    """The caller's tenant condition is what scopes: the filter alone matches both tenants' bjensen."""
    q = select(User.tenant_id).where(build_filter('userName eq "bjensen"', "User", db.engine.dialect.name))
    assert len(set(db.session.execute(q).scalars())) == 2
    assert users(directory, 'userName eq "bjensen"') == ["bjensen"]


INVALID_USER_FILTERS = [
    # unknown attributes, wherever they are: never dropped, never widening
    'nosuchattr eq "b"',
    'userName eq "a" or nosuchattr eq "b"',
    'not (nosuchattr pr) or userName pr',
    'name.givenNam eq "x"',
    'emails[tpye eq "work"]',
    'emails[type eq "work"].valeu eq "x"',
    'emails.value[type eq "work"]',
    'emails[type eq "work" and emails[value pr]]',
    'userName.first eq "a"',
    'members.value eq "x"',
    f'{CORE_GROUP}:displayName eq "x"',
    'urn:example:unknown:2.0:User:userName eq "x"',
    f'{ENT}:userName eq "x"',
    'employeeNumber eq "701984"',  # extension attributes carry their URN
    # not filterable
    'password eq "secret"',
    "password pr",
    "meta.location pr",
    'meta eq "x"',
    'name eq "x"',
    'addresses co "x"',
    'groups[type eq "direct"]',
    # operator / type mismatches
    "active gt true",
    'active co "t"',
    'active eq "true"',
    'emails[primary eq "true"]',
    "title eq true",
    'meta.lastModified gt "yesterday"',
    'meta.lastModified co "2011"',
    "meta.lastModified gt 5",
    "title gt null",
    'x509Certificates.value gt "a"',
    # syntax errors
    "userName eq",
    'userName xx "a"',
    '(userName eq "a"',
    'userName eq "a")',
    "",
    "   ",
    'userName eq "a" and',
    'userName eq "unterminated',
    'not userName eq "a"',
    'emails[type eq "work"',
    'userName eq "bad \\q escape"',
    'userName = "a"',
    'userName eq 1.2.3',
]


@pytest.mark.parametrize("f", INVALID_USER_FILTERS)
def test_invalid_user_filters(f):
    with pytest.raises(InvalidFilter) as e:
        build_filter(f, "User", "sqlite")
    assert e.value.status == 400 and e.value.scim_type == "invalidFilter" and e.value.detail


@pytest.mark.parametrize("f", ['userName eq "x"', 'members.display eq "x"', 'groups.value eq "x"',
                               'displayName gt true'])
def test_invalid_group_filters(f):
    with pytest.raises(InvalidFilter):
        build_filter(f, "Group", "postgresql")


@pytest.mark.parametrize("f,words", [
    ('userName eq "a" or nosuchattr eq "b"', "nosuchattr"),
    ('name.givenNam eq "x"', "givenNam"),
    ('emails[tpye eq "work"]', "tpye"),
    ('userName xx "a"', '"xx" at position 10'),
    ('addresses co "x"', "addresses has no value"),
    ("userName eq", "end of the filter"),
    ("active gt true", "boolean"),
    ("password pr", "never returned"),
])
def test_error_details_say_what_is_wrong(f, words):
    with pytest.raises(InvalidFilter) as e:
        build_filter(f, "User", "sqlite")
    assert words in e.value.detail


def test_parse_filter_fixes_precedence():
    """scim2-filter-parser reads `a or b and c` as `(a or b) and c`; parse_filter returns `a or (b and c)`."""
    tree = parse_filter('a eq "1" or b eq "2" and c eq "3"')
    assert isinstance(tree.expr, ast.LogExpr) and tree.expr.op == "or"
    right = tree.expr.expr2.expr
    assert isinstance(right, ast.LogExpr) and right.op == "and"


def test_values_are_bound_parameters():
    sql = str(build_filter('userName eq "x\' OR 1=1 --"', "User", "sqlite").compile(dialect=sqlite.dialect()))
    assert "OR 1=1" not in sql and sql == "users.user_name_ci = ?"


@pytest.mark.parametrize("f", ["(" * 3000 + 'userName eq "a"' + ")" * 3000,
                               "not (" * 100 + 'userName eq "a"' + ")" * 100])
def test_too_deep_nesting_is_invalid_filter(f):
    with pytest.raises(InvalidFilter):
        build_filter(f, "User", "sqlite")


def test_long_or_chains_are_fine(directory):
    """Clients send long "id eq ... or id eq ..." lists; they must not hit a recursion limit."""
    f = " or ".join(f'userName eq "n{i}"' for i in range(499)) + ' or userName eq "jdoe"'
    assert users(directory, f) == ["jdoe"]
    with pytest.raises(InvalidFilter):  # beyond the cap: a 400, not a database error
        build_filter(f + ' or userName eq "x"', "User", db.engine.dialect.name)


def sorted_users(tenant_id: int, f: str, sort_by: str) -> list[str]:
    d = db.engine.dialect.name
    q = (select(User.user_name).where(User.tenant_id == tenant_id, build_filter(f, "User", d))
         .order_by(sort_expression(sort_by, "User", d), User.id))
    return list(db.session.execute(q).scalars())


@pytest.mark.parametrize("f,sort_by,expected", [
    ("emails pr or userName eq \"nomail\"", "userName", ["bjensen", "jdoe", "JSmith", "nomail"]),
    ("emails pr", "USERNAME", ["bjensen", "jdoe", "JSmith"]),
    ("name.familyName pr", "name.familyName", ["bjensen", "JSmith"]),
    ("emails pr", "meta.lastModified", ["jdoe", "bjensen", "JSmith"]),
    # multi-valued: the primary value, else the first (RFC 7644 §3.4.2.3)
    ("emails pr", "emails", ["JSmith", "bjensen", "jdoe"]),
    ("emails pr", "emails.value", ["JSmith", "bjensen", "jdoe"]),
    ("emails pr", "emails.type", ["JSmith", "jdoe", "bjensen"]),  # home, home, work
    (f"{ENT}:employeeNumber pr", f"{ENT}:employeeNumber", ["bjensen", "jdoe"]),
])
def test_sort_expression(directory, f, sort_by, expected):
    assert sorted_users(directory, f, sort_by) == expected


@pytest.mark.parametrize("sort_by", ["nosuch", "groups", "name", "password", "name.givenNam", "", "meta.location"])
def test_sort_expression_rejects(sort_by):
    with pytest.raises(InvalidFilter):
        sort_expression(sort_by, "User", "sqlite")


def test_sort_groups_by_display_name(directory):
    d = db.engine.dialect.name
    q = select(Group.display_name).where(Group.tenant_id == directory).order_by(
        sort_expression("displayName", "Group", d).desc())
    assert list(db.session.execute(q).scalars()) == ["Sales", "Platform", "Engineering"]
    with pytest.raises(InvalidFilter):
        sort_expression("members", "Group", d)
