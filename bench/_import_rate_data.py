"""import_rate's data set (a CSV of users, each in one or two of the groups) and its floor: the same
rows inserted with the standard library's sqlite3 alone."""
from __future__ import annotations

import csv
import json
import random
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HEADER = ["userName", "externalId", "givenName", "familyName", "email", "active", "title", "department",
          "employeeNumber", "groups"]
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
TITLES = ("Engineer", "Manager", "Analyst", "Designer", "Accountant")


def group_name(i: int) -> str:
    return f"Group {i:03d}"


def write_csv(path: Path, users: int, groups: int, seed: int) -> dict:
    """N users, each in one or two of `groups` groups; how many memberships it names."""
    rng = random.Random(seed)
    names = [group_name(i) for i in range(groups)]
    memberships = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(users):
            mine = rng.sample(names, min(groups, rng.choice((1, 2))))
            memberships += len(mine)
            w.writerow([f"user{i:07d}@example.com", f"ext-{i:07d}", f"Given{i}", f"Family{i}",
                        f"user{i:07d}@mail.example.com", "false" if i % 20 == 0 else "true", rng.choice(TITLES),
                        f"Department {i % 40}", str(1_000_000 + i), ";".join(mine)])
    return {"users": users, "groups": groups, "memberships": memberships, "bytes": path.stat().st_size}


def _doc(cells: dict) -> dict:
    """The document POST /Users stores for a row, built directly (no validation)."""
    doc = {"userName": cells["userName"], "externalId": cells["externalId"],
           "name": {"givenName": cells["givenName"], "familyName": cells["familyName"]},
           "emails": [{"type": "work", "value": cells["email"]}], "active": cells["active"] == "true",
           "title": cells["title"]}
    doc[ENTERPRISE] = {"department": cells["department"], "employeeNumber": cells["employeeNumber"]}
    return doc


def floor_sqlite(db_path: Path, csv_path: Path, tenant_id: int, batch: int, synchronous: str = "FULL") -> dict:
    """Read the CSV and insert its users, groups and memberships into the migrated database's tables
    (their indexes and access-history triggers included) with sqlite3 executemany, `batch` users per
    transaction, under the pragmas the server sets. No validation, no change log, no revision:
    what any loader of these rows into this schema pays at least. Timed from opening the file."""
    t0, c0 = time.perf_counter(), time.process_time()
    conn = sqlite3.connect(db_path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=10000", f"synchronous={synchronous}"):
        conn.execute(f"PRAGMA {pragma}")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    group_ids: dict[str, str] = {}
    users = memberships = 0

    def flush(rows, members, new_groups):
        conn.execute("BEGIN IMMEDIATE")
        if new_groups:
            conn.executemany("INSERT INTO groups (id, tenant_id, display_name, display_name_ci, external_id, doc, "
                             "version, created, last_modified) VALUES (?, ?, ?, ?, NULL, ?, 1, ?, ?)", new_groups)
        conn.executemany("INSERT INTO users (id, tenant_id, user_name, user_name_ci, external_id, active, "
                         "display_name, doc, app_attributes, version, created, last_modified) "
                         "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, '{}', 1, ?, ?)", rows)
        conn.executemany("INSERT INTO group_members (group_id, member_id, member_type, tenant_id, added) "
                         "VALUES (?, ?, 'User', ?, ?)", members)
        conn.execute("COMMIT")

    with csv_path.open(newline="", encoding="utf-8") as f:
        rows, members, new_groups = [], [], []
        for cells in csv.DictReader(f):
            uid = str(uuid.uuid4())
            doc = _doc(cells)
            rows.append((uid, tenant_id, doc["userName"], doc["userName"].lower(), doc["externalId"], doc["active"],
                         json.dumps(doc), now, now))
            for g in cells["groups"].split(";"):
                if g.lower() not in group_ids:
                    group_ids[g.lower()] = gid = str(uuid.uuid4())
                    new_groups.append((gid, tenant_id, g, g.lower(), json.dumps({"displayName": g}), now, now))
                members.append((group_ids[g.lower()], uid, tenant_id, now))
            if len(rows) >= batch:
                flush(rows, members, new_groups)
                users, memberships = users + len(rows), memberships + len(members)
                rows, members, new_groups = [], [], []
        if rows:
            flush(rows, members, new_groups)
            users, memberships = users + len(rows), memberships + len(members)
    conn.close()
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0, "users": users,
            "groups": len(group_ids), "memberships": memberships}
