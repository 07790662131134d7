"""Valid requests for every surface, aimed at a seeded world: the starting points the fuzz suite mutates.

Each is a `Seed`: a JSON body (SCIM and /v1), form fields (the console) or query parameters (GETs)."""
from __future__ import annotations

from dataclasses import dataclass, field

from tests.fuzz._mutate import encode, form_body
from tests.fuzz._world import SCHEMA, Req, World, query_string

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SCIM_JSON, JSON, FORM = "application/scim+json", "application/json", "application/x-www-form-urlencoded"


@dataclass
class Seed:
    method: str
    path: str
    json: object = None  # a JSON body
    form: list | None = None  # form fields, (name, value) pairs, the CSRF token among them
    query: list = field(default_factory=list)  # query parameters, (name, value) pairs
    content_type: str | None = None

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def request(self, *, body=None, form=None, query=None, content_type: str | None = "default") -> Req:
        """This seed as a request, with any part replaced (a mutated body, form or query)."""
        ct = self.content_type if content_type == "default" else content_type
        raw = None
        if self.json is not None or body is not None:
            raw = encode(self.json if body is None else body)
        elif self.form is not None or form is not None:
            raw = form_body(self.form if form is None else form)
        return Req(self.method, self.path, raw, ct, query_string(self.query if query is None else query))


def _user(user_name: str, ids: dict) -> dict:
    return {"schemas": [USER, ENTERPRISE], "userName": user_name, "externalId": "fuzz-ext-1",
            "name": {"givenName": "Fuzz", "familyName": "Tester", "formatted": "Fuzz Tester"},
            "displayName": "Fuzz Tester", "title": "Tester", "active": True, "preferredLanguage": "en-GB",
            "emails": [{"value": "fuzz@acme.test", "type": "work", "primary": True}],
            "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work"}],
            ENTERPRISE: {"employeeNumber": "42", "department": "QA", "manager": {"value": ids["ann"]}}}


def scim_seeds(w: World) -> list[Seed]:
    ids, s = w.ids, "/scim/v2"
    patch_user = {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "displayName", "value": "Bob B."},
        {"op": "add", "path": "emails", "value": [{"value": "bob2@acme.test", "type": "home"}]},
        {"op": "replace", "value": {"active": True, "title": "Builder"}},
        {"op": "remove", "path": 'emails[type eq "home"]'}]}
    patch_group = {"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": ids["bob"]}]},
        {"op": "remove", "path": f'members[value eq "{ids["bob"]}"]'},
        {"op": "replace", "path": "displayName", "value": f"{w.ids['eng_name']}"}]}
    search = {"schemas": [SEARCH], "filter": 'userName sw "ann" and active eq true', "startIndex": 1, "count": 10,
              "attributes": ["userName", "emails"], "sortBy": "userName", "sortOrder": "descending"}
    bulk = {"schemas": [BULK], "failOnErrors": 2, "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"schemas": [USER], "userName": "bulk@acme.test"}},
        {"method": "PATCH", "path": f"/Groups/{ids['eng']}", "data": {"schemas": [PATCH_OP], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}]}]}},
        {"method": "PUT", "path": f"/Users/{ids['bob']}", "version": 'W/"1"',
         "data": {"schemas": [USER], "userName": ids["bob_name"]}},
        {"method": "DELETE", "path": "/Users/bulkId:u1"}]}
    return [
        Seed("POST", f"{s}/Users", _user("fuzz.new@acme.test", ids), content_type=SCIM_JSON),
        Seed("PUT", f"{s}/Users/{ids['ann']}", _user(ids["ann_name"], ids), content_type=SCIM_JSON),
        Seed("PATCH", f"{s}/Users/{ids['bob']}", patch_user, content_type=SCIM_JSON),
        Seed("POST", f"{s}/Groups", {"schemas": [GROUP], "displayName": "Fuzz Group", "externalId": "fg-1",
                                     "members": [{"value": ids["ann"]}, {"value": ids["platform"], "type": "Group"}]},
             content_type=SCIM_JSON),
        Seed("PUT", f"{s}/Groups/{ids['platform']}", {"schemas": [GROUP], "displayName": ids["platform_name"],
                                                      "members": [{"value": ids["bob"]}]}, content_type=SCIM_JSON),
        Seed("PATCH", f"{s}/Groups/{ids['eng']}", patch_group, content_type=SCIM_JSON),
        Seed("POST", f"{s}/Users/.search", search, content_type=SCIM_JSON),
        Seed("POST", f"{s}/Groups/.search", {"schemas": [SEARCH], "filter": 'displayName co "Eng"',
                                             "excludedAttributes": ["members"], "count": 5}, content_type=SCIM_JSON),
        Seed("POST", f"{s}/.search", {"schemas": [SEARCH], "filter": 'externalId pr', "startIndex": 2, "count": 1},
             content_type=SCIM_JSON),
        Seed("POST", f"{s}/Bulk", bulk, content_type=SCIM_JSON),
    ]


def scim_query_seeds(w: World) -> list[Seed]:
    ids, s = w.ids, "/scim/v2"
    return [
        Seed("GET", f"{s}/Users", query=[("filter", f'userName eq "{ids["ann_name"]}" or (title co "Eng" and '
                                                     'emails[type eq "work"])'),
                                         ("startIndex", "1"), ("count", "10"), ("attributes", "userName,emails"),
                                         ("sortBy", "userName"), ("sortOrder", "descending")]),
        Seed("GET", f"{s}/Groups", query=[("filter", 'displayName co "Eng" and members.value pr'),
                                          ("startIndex", "2"), ("count", "5"), ("excludedAttributes", "members")]),
        Seed("GET", f"{s}/Users/{ids['ann']}", query=[("attributes", "userName,name.givenName"),
                                                      ("excludedAttributes", "groups")]),
        Seed("GET", f"{s}/Groups/{ids['eng']}", query=[("excludedAttributes", "members")]),
        Seed("PATCH", f"{s}/Groups/{ids['platform']}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "displayName", "value": ids["platform_name"]}]},
            query=[("attributes", "displayName,members")], content_type=SCIM_JSON),
    ]


def api_seeds(w: World) -> list[Seed]:
    ids = w.ids
    check = {"user": ids["ann"], "action": "edit", "resource": "document:1", "context": {"ip": "10.0.0.1", "n": 3},
             "consistency": {"at_least": 1}, "explain": True, "schema_version": 1}
    role = {"key": "fuzz-role", "name": "Fuzz", "description": "made by the fuzzer",
            "permissions": ["document:view", "folder:view"], "extends": [ids["role"]],
            "condition": 'user.department == "eng" and context.hour >= 9'}
    return [
        Seed("POST", "/v1/check", check, content_type=JSON),
        Seed("POST", "/v1/check", {"user": {"userName": ids["ann_name"]}, "action": "view",
                                   "resource": {"type": "document", "id": 7, "attributes": {"owner": ids["ann"]}}},
             query=[("explain", "true")], content_type=JSON),
        Seed("POST", "/v1/check/bulk", {"checks": [check, {"user": ids["bob"], "action": "view",
                                                           "resource": "folder:1"}],
                                        "consistency": {"at_least": 0}}, content_type=JSON),
        Seed("POST", "/v1/roles", role, content_type=JSON),
        Seed("PUT", f"/v1/roles/{ids['role']}", {"name": "Editor", "permissions": ["document:edit", "document:view"],
                                                 "description": "", "extends": [], "condition": None},
             content_type=JSON),
        Seed("PATCH", f"/v1/roles/{ids['role']}", {"description": "edits documents"}, content_type=JSON),
        Seed("POST", "/v1/role-assignments", {"user": ids["bob"], "role": ids["role"], "resource": "document:7"},
             content_type=JSON),
        Seed("POST", "/v1/group-mappings", {"group": ids["platform"], "role": ids["role"], "resource": "folder:1"},
             content_type=JSON),
        Seed("PUT", "/v1/users/carol", {"userName": "carol@acme.test", "externalId": "c-1", "displayName": "Carol",
                                        "email": "carol@acme.test", "active": True,
                                        "attributes": {"level": 3, "department": "eng", "tags": ["a"]},
                                        "roles": [ids["role"]]}, content_type=JSON),
        Seed("POST", "/v1/users/bulk", {"users": [{"key": "dave", "userName": "dave@acme.test",
                                                   "attributes": {"level": 1}},
                                                  {"key": ids["ann"], "displayName": "Ann A.", "active": True}]},
             content_type=JSON),
        Seed("PATCH", "/v1/tenant", {"name": ids["tenant_name"], "role_mode": "hybrid", "default_role": ids["role"],
                                     "jwt": {"issuer": "https://idp.example.test", "audience": "acme-app",
                                             "hs256_secret": "s" * 40, "user_claim": "sub",
                                             "username_claim": "email", "leeway_seconds": 30}}, content_type=JSON),
        Seed("POST", "/v1/relationships", {"relationships": [
            {"resource": "document:2", "relation": "viewer", "subject": f"group:{ids['eng']}#member"},
            {"resource": "document:2", "relation": "parent", "subject": "folder:1"}]}, content_type=JSON),
        Seed("POST", "/v1/relationships/delete", {"relationships": [
            {"resource": "document:2", "relation": "viewer", "subject": f"user:{ids['bob']}"}]}, content_type=JSON),
        Seed("POST", "/v1/schema", {"source": SCHEMA}, content_type=JSON),
        Seed("POST", "/v1/schema/validate", {"source": SCHEMA + "entity team {\n  relation member @user\n}\n"},
             content_type=JSON),
        Seed("POST", "/v1/lookup/resources", {"user": ids["ann"], "action": "view", "resource_type": "document",
                                              "context": {}, "consistency": {"at_least": 0}, "limit": 10},
             content_type=JSON),
        Seed("POST", "/v1/lookup/subjects", {"action": "view", "resource": "folder:1", "limit": 10,
                                             "cursor": "YQ=="}, content_type=JSON),
        # a policy file (as JSON): compared, and applied dry (the fuzzer's valid ones write nothing either)
        Seed("POST", "/v1/policy/diff", policy_file(w), content_type=JSON),
        Seed("POST", "/v1/policy/apply", policy_file(w), query=[("dry_run", "true")], content_type=JSON),
    ]


def policy_file(w: World) -> dict:
    ids = w.ids
    return {"version": 1, "role_mode": "hybrid", "default_role": ids["role"],
            "roles": [{"key": ids["role"], "name": "Editor", "permissions": ["document:edit", "document:view"],
                       "condition": 'user.title == "Engineer"'}, {"key": "fuzz-viewer", "extends": [ids["role"]]}],
            "group_mappings": [{"group": ids["eng_name"], "role": ids["role"], "resource": "folder:1"},
                               {"group": {"externalId": "fuzz-ext"}, "role": "fuzz-viewer"}],
            "assignments": [{"user": ids["ann_name"], "role": "fuzz-viewer"}], "schema": SCHEMA,
            "relationships": ["document:2#parent@folder:1", f"folder:1#viewer@group:{ids['eng']}#member"],
            "resources": [{"type": "document", "id": "2", "attributes": {"status": "open", "n": 3}}],
            "fixtures": {"users": [{"userName": "f@x", "groups": ["G"], "attributes": {"title": "Engineer"}}],
                         "groups": [{"displayName": "G"}]},
            "assertions": [{"user": "f@x", "action": "view", "resource": "folder:1", "expect": "deny"}]}


def api_query_seeds(w: World) -> list[Seed]:
    ids = w.ids
    return [
        Seed("GET", "/v1/decisions", query=[("user", ids["ann"]), ("allowed", "true"), ("limit", "10"),
                                            ("since", "2020-01-01T00:00:00Z"), ("until", "2100-01-01T00:00:00+01:00"),
                                            ("resource_type", "document"), ("action", "edit")]),
        Seed("GET", "/v1/usage", query=[("months", "12")]),
        Seed("GET", "/v1/relationships", query=[("resource_type", "document"), ("relation", "owner"),
                                                ("limit", "10"), ("cursor", "1")]),
        Seed("GET", "/v1/role-assignments", query=[("user", ids["ann"]), ("role", ids["role"])]),
        Seed("GET", "/v1/group-mappings", query=[("group", ids["eng"])]),
        Seed("GET", "/v1/schema", query=[("version", "1")]),
        Seed("GET", f"/v1/users/{ids['ann']}/permissions", query=[("at_least", "0")]),
        Seed("GET", f"/v1/users/{ids['ann_name']}"),
    ]


def console_form_seeds(w: World) -> list[Seed]:
    ids, csrf = w.ids, w.csrf()
    return [
        Seed("POST", "/admin/roles", form=[("key", "fuzz-console"), ("name", "Fuzz"), ("description", "d"),
                                           ("permissions", "document:view\nfolder:view"), ("extends", ids["role"]),
                                           ("condition", 'user.title == "Engineer"'), ("csrf_token", csrf)],
             content_type=FORM),
        Seed("POST", f"/admin/roles/{ids['role']}", form=[("name", "Editor"), ("description", ""),
                                                          ("permissions", "document:edit\ndocument:view"),
                                                          ("condition", ""), ("csrf_token", csrf)], content_type=FORM),
        Seed("POST", "/admin/mappings", form=[("group", ids["platform"]), ("role", ids["role"]),
                                              ("resource", "folder:2"), ("replace", ""), ("gq", ""),
                                              ("csrf_token", csrf)], content_type=FORM),
        Seed("POST", "/admin/mappings", form=[("group", ids["eng"]), ("role", ids["role"]), ("resource", ""),
                                              ("replace", str(ids["mapping"])), ("gq", "Eng"), ("csrf_token", csrf)],
             content_type=FORM),
        Seed("POST", "/admin/mappings/preview", form=[("group", ids["eng"]), ("role", ids["role"]),
                                                      ("resource", "document:9"), ("replace", ""), ("gq", "Eng"),
                                                      ("csrf_token", csrf)], content_type=FORM),
        Seed("POST", "/admin/settings", form=[("name", ids["tenant_name"]), ("role_mode", "hybrid"),
                                              ("default_role", ids["role"]), ("csrf_token", csrf)], content_type=FORM),
        Seed("POST", "/admin/schema", form=[("source", SCHEMA), ("csrf_token", csrf)], content_type=FORM),
        Seed("POST", "/admin/schema/validate", form=[("source", SCHEMA), ("csrf_token", csrf)], content_type=FORM),
        Seed("POST", "/admin/playground", form=[("user", ids["ann_name"]), ("action", "edit"),
                                                ("resource", "document:1"), ("context", '{"ip": "10.0.0.1"}'),
                                                ("csrf_token", csrf)], content_type=FORM),
        Seed("POST", "/admin/connect/tokens", form=[("name", "Fuzz IdP"), ("kind", "scim"), ("csrf_token", csrf)],
             content_type=FORM),
        Seed("POST", "/admin/schema/versions/1/activate", form=[("csrf_token", csrf)], content_type=FORM),
    ]


def console_query_seeds(w: World) -> list[Seed]:
    ids = w.ids
    return [
        Seed("GET", "/admin/users", query=[("q", "ann"), ("status", "active"), ("page", "1")]),
        Seed("GET", "/admin/groups", query=[("q", "Eng"), ("page", "1")]),
        Seed("GET", f"/admin/groups/{ids['eng']}", query=[("page", "1")]),
        Seed("GET", "/admin/audit", query=[("user", ids["ann_name"]), ("result", "allowed"),
                                           ("resource_type", "document"), ("since", "2020-01-01"),
                                           ("until", "2100-01-01")]),
        Seed("GET", "/admin/schema", query=[("version", "1")]),
        Seed("GET", "/admin/playground", query=[("user", ids["ann_name"]), ("action", "edit"),
                                                ("resource", "document:1"), ("context", "{}")]),
        Seed("GET", "/admin/mappings/new", query=[("group", ids["eng"]), ("gq", "Eng")]),
        Seed("GET", "/admin/users/search.json", query=[("q", "ann")]),
    ]


def login_seed(csrf: str) -> Seed:
    return Seed("POST", "/admin/login", form=[("email", "nobody@acme.test"), ("password", "not the password"),
                                              ("next", "/admin/roles"), ("csrf_token", csrf)], content_type=FORM)
