"""scim_cycle's data set and requests: who the IdP provisions, in which units, and the final state
the client expects once both cycles are done. Made from a seed, the same for every server.

A unit is what one connection does from start to end, in order: a user's look-up and create, a
group's look-up, create and member adds, a user's GET and PUT, one PATCH. Units of one step run on
any connection; a step starts when the previous one has finished.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

GIVEN = ("Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "Hedy", "Ivan", "John",
         "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Shafi", "Tim", "Whitfield", "Yukihiro")
FAMILY = ("Lovelace", "Turing", "Liskov", "Shannon", "Ritchie", "Dijkstra", "Allen", "Hopper", "Lamarr",
          "Sutherland", "McCarthy", "Thompson", "Lamport", "Hamilton", "Wirth", "Perlman", "Goldwasser",
          "Berners-Lee", "Diffie", "Matsumoto")
DEPARTMENTS = ("Engineering", "Sales", "Marketing", "Finance", "Legal", "Support", "Operations", "Research",
               "HR", "Security", "Design", "Data")
TITLES = ("Engineer", "Senior Engineer", "Manager", "Analyst", "Designer", "Director", "Consultant", "Specialist")

MANAGER_EVERY = 10          # every 10th user is a manager, created in the first step
MANAGED_SHARE = 0.7         # of the others, this share names one of them as manager
MEMBER_BATCH = 50           # members per Entra PATCH
PARENT_SHARE = 0.1          # groups holding 1-2 other groups
PUT_SHARE, DEACTIVATE_SHARE = 0.10, 0.05
DELTA_SHARE = 0.3           # groups whose members Okta changes


@dataclass
class UserSpec:
    user_name: str
    external_id: str
    given: str
    family: str
    title: str
    employee_number: str
    department: str
    manager: str | None     # the manager's userName


@dataclass
class GroupSpec:
    display_name: str       # the key: the name it is created with
    external_id: str
    users: list[str]        # userNames, in the order they are added
    subgroups: list[str] = field(default_factory=list)   # display names (groups of an earlier step)


@dataclass
class Plan:
    users: dict[str, UserSpec]
    groups: dict[str, GroupSpec]
    entra_steps: list[tuple[str, list[tuple]]]   # (step, units): ("user", name) | ("group", name)
    okta_steps: list[tuple[str, list[tuple]]]    # ("put", name, attr, value) | ("deactivate", name) |
    #                                              ("delta", group, removed, added) | ("rename", group, new)
    expected: dict                                # {"users": {userName: fields}, "groups": {name: fields}}

    @property
    def request_count(self) -> dict:
        """Requests per phase when every one succeeds (a failed create drops the requests after it)."""
        entra = 0
        for _, units in self.entra_steps:
            for u in units:
                if u[0] == "user":
                    entra += 2
                else:
                    g = self.groups[u[1]]
                    entra += 2 + -(-(len(g.users) + len(g.subgroups)) // MEMBER_BATCH)
        okta = sum(2 if u[0] == "put" else 1 for _, units in self.okta_steps for u in units)
        return {"entra_initial": entra, "okta_incremental": okta}


def user_fields(u: UserSpec) -> dict:
    """What the final-state check compares for a user."""
    return {"active": True, "externalId": u.external_id, "displayName": f"{u.given} {u.family}",
            "title": u.title, "familyName": u.family, "employeeNumber": u.employee_number,
            "department": u.department, "manager": u.manager}


def build_plan(n_users: int, n_groups: int, seed: int) -> Plan:
    rng = random.Random(seed)
    users: dict[str, UserSpec] = {}
    managers: list[str] = []
    for i in range(n_users):
        name = f"cycle{i:06d}@example.com"
        is_manager = i % MANAGER_EVERY == 0
        manager = None if is_manager or rng.random() >= MANAGED_SHARE else rng.choice(managers)
        users[name] = UserSpec(name, str(uuid.UUID(int=rng.getrandbits(128), version=4)), rng.choice(GIVEN),
                               rng.choice(FAMILY), rng.choice(TITLES), f"E{i:06d}", rng.choice(DEPARTMENTS), manager)
        if is_manager:
            managers.append(name)

    names = [f"Cycle group {j:04d}" for j in range(n_groups)]
    groups = {g: GroupSpec(g, str(uuid.UUID(int=rng.getrandbits(128), version=4)), []) for g in names}
    for name in users:                                  # each user in 1-3 groups
        for g in rng.sample(names, k=min(len(names), rng.randint(1, 3))):
            groups[g].users.append(name)
    n_parents = max(1, round(n_groups * PARENT_SHARE)) if n_groups >= 4 else 0
    parents = set(rng.sample(names, k=n_parents))
    leaves = [g for g in names if g not in parents]     # subgroups are leaves: no cycle can form
    for g in sorted(parents):
        groups[g].subgroups = rng.sample(leaves, k=min(len(leaves), rng.randint(1, 2)))
    for g in groups.values():
        rng.shuffle(g.users)

    user_names, manager_set = list(users), set(managers)
    entra_steps = [
        ("managers", [("user", n) for n in user_names if n in manager_set]),
        ("users", [("user", n) for n in user_names if n not in manager_set]),
        ("groups", [("group", g) for g in names if g not in parents]),
        ("parent_groups", [("group", g) for g in names if g in parents]),
    ]

    expected = {"users": {n: user_fields(u) for n, u in users.items()},
                "groups": {g: {"displayName": g, "externalId": s.external_id,
                               "members": {("User", n) for n in s.users} | {("Group", x) for x in s.subgroups}}
                           for g, s in groups.items()}}

    # ---- Okta's incremental cycle: disjoint sets of users, so no two units touch one user -------
    picked = rng.sample(user_names, k=round(n_users * PUT_SHARE) + round(n_users * DEACTIVATE_SHARE))
    put_users, off_users = picked[:round(n_users * PUT_SHARE)], picked[round(n_users * PUT_SHARE):]
    units: list[tuple] = []
    for k, n in enumerate(put_users):
        if k % 2:
            value = users[n].family + "-Changed"
            expected["users"][n]["familyName"] = value
            units.append(("put", n, "familyName", value))
        else:
            value = f"{users[n].title} II"
            expected["users"][n]["title"] = value
            units.append(("put", n, "title", value))
    for n in off_users:
        expected["users"][n]["active"] = False
        units.append(("deactivate", n))
    delta_groups = rng.sample(names, k=max(1, round(n_groups * DELTA_SHARE))) if names else []
    for g in delta_groups:
        current = sorted(n for kind, n in expected["groups"][g]["members"] if kind == "User")
        removed = rng.sample(current, k=min(len(current), rng.randint(1, 3)))
        outside = [n for n in user_names if ("User", n) not in expected["groups"][g]["members"]]
        added = rng.sample(outside, k=min(len(outside), rng.randint(1, 3)))
        expected["groups"][g]["members"] -= {("User", n) for n in removed}
        expected["groups"][g]["members"] |= {("User", n) for n in added}
        units.append(("delta", g, removed, added))
    others = [g for g in names if g not in delta_groups]
    if others:
        g = rng.choice(others)
        expected["groups"][g]["displayName"] = f"{g} (renamed)"
        units.append(("rename", g, f"{g} (renamed)"))
    rng.shuffle(units)
    return Plan(users, groups, entra_steps, [("changes", units)], expected)
