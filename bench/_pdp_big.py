"""pdp's large tenant: --users users and --relationships relationships written straight into the
SQLite database (executemany, as bench/_scale_memory_fill.py fills it), rows as SCIM and /v1 would
write them, and the change log kept as the product's services keep it: the whole fill is one
revision of the tenant, with one change row per user and per relationship at that revision (what
`policy apply` of the same rows would record), so the log has no gap and the tenant's revision,
user count and relationships' revision agree.

The relationship schema (written through POST /v1/schema before the fill, so it is the product's
own compiled form) holds folders viewed by users and documents with a parent folder and an owner:

    document d_i  parent  -> folder f_(i mod folders)          (45% of the relationships)
    document d_i  owner   -> user   u_(7i mod users)           (45%)
    folder   f_j  viewer  -> user   u_(random)                 (10%)

so `view document:d_i` is allowed for its owner (one hop) and for its folder's viewer (two hops),
and denied for others; `expected_checks` draws such checks with their answers.
"""
from __future__ import annotations

import json
import random
import sqlite3
import time
import uuid

from _report import log
from _scale_memory_data import STAMP, user_doc

SCHEMA = """
entity folder {
  relation viewer @user @group#member
  relation parent @folder
  permission view = viewer or parent.view
}
entity document {
  relation owner @user
  relation viewer @user @group#member
  relation parent @folder
  permission edit = owner
  permission view = edit or viewer or parent.view
}
"""
SEP = "\x1f"  # scim_authz.authz.changes.relationship_ref's separator
USER_COLS = ("id", "tenant_id", "user_name", "user_name_ci", "external_id", "active", "display_name", "doc",
             "app_attributes", "version", "created", "last_modified")
REL_COLS = ("tenant_id", "resource_type", "resource_id", "relation", "subject_type", "subject_id",
            "subject_relation", "revision")
BATCH = 50_000


class BigTenant:
    """The shape of the large tenant, made the same from the same seed."""

    def __init__(self, n_users: int, n_relationships: int, seed: int):
        self.rng = random.Random(f"pdp-big-{seed}")
        self.n_users = n_users
        self.n_folders = max(1, n_relationships // 10)
        self.n_docs = max(1, (n_relationships - self.n_folders) // 2)
        self.user_ids = [str(uuid.UUID(int=self.rng.getrandbits(128), version=4)) for _ in range(n_users)]
        self.folder_viewer = [self.rng.randrange(n_users) for _ in range(self.n_folders)]

    def owner(self, i: int) -> int:
        return (7 * i) % self.n_users

    def folder(self, i: int) -> int:
        return i % self.n_folders

    @property
    def n_relationships(self) -> int:
        return self.n_folders + 2 * self.n_docs

    def users(self):
        for j, uid in enumerate(self.user_ids):
            name = f"user{j:06d}@big.example.com"
            u = (uid, name, f"00ubig{j:08d}", True, ("Ada", "Alan", "Grace")[j % 3], "Lovelace", f"Dept {j % 17}")
            doc = user_doc(u)
            yield (uid, None, name, name.lower(), u[2], True, doc["displayName"], json.dumps(doc), "{}", 1, STAMP,
                   STAMP)

    def relationships(self):
        """(resource type, id, relation, subject type, id, subject relation), in the unique index's order
        within each kind (cheaper B-tree inserts)."""
        for j in range(self.n_folders):
            yield ("folder", f"f{j:07d}", "viewer", "user", self.user_ids[self.folder_viewer[j]], "")
        for i in range(self.n_docs):
            yield ("document", f"d{i:07d}", "owner", "user", self.user_ids[self.owner(i)], "")
            yield ("document", f"d{i:07d}", "parent", "folder", f"f{self.folder(i):07d}", "")

    def expected_checks(self, n: int) -> list[tuple[dict, bool, str]]:
        """n checks (body, expected answer, why): owners, folder viewers (two hops), and others denied."""
        rng = random.Random(12345)
        out = []
        for k in range(n):
            i = rng.randrange(self.n_docs)
            owner, viewer = self.owner(i), self.folder_viewer[self.folder(i)]
            kind = k % 3
            if kind == 0:
                out.append((self._body(owner, i), True, "owner"))
            elif kind == 1:
                out.append((self._body(viewer, i), True, "viewer of the parent folder"))
            else:
                other = rng.randrange(self.n_users)
                if other in (owner, viewer):
                    continue
                out.append((self._body(other, i), False, "neither owner nor viewer"))
        return out

    def _body(self, user: int, doc: int) -> dict:
        return {"user": self.user_ids[user], "action": "view", "resource": f"document:d{doc:07d}"}


def _chunks(it, size: int):
    buf = []
    for x in it:
        buf.append(x)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def fill(db_path, tenant_key: str, big: BigTenant) -> dict:
    """Write the tenant's users, relationships and change log in one transaction (one revision);
    what was written and how long it took."""
    t0 = time.perf_counter()
    conn = sqlite3.connect(db_path, timeout=60)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        row = conn.execute("SELECT id, revision FROM tenants WHERE key = ?", (tenant_key,)).fetchone()
        if row is None:
            raise RuntimeError(f"no tenant {tenant_key!r}")
        tid, before = row
        schema = conn.execute("SELECT count(*) FROM authz_schemas WHERE tenant_id = ?", (tid,)).fetchone()[0]
        if not schema:
            raise RuntimeError(f"tenant {tenant_key!r} has no relationship schema")
        conn.execute("BEGIN IMMEDIATE")
        revision = conn.execute("UPDATE tenants SET revision = revision + 1 WHERE id = ? RETURNING revision",
                                (tid,)).fetchone()[0]
        marks = ", ".join("?" * len(USER_COLS))
        n_users = 0
        for batch in _chunks(big.users(), BATCH):
            rows = [(r[0], tid, *r[2:]) for r in batch]
            conn.executemany(f"INSERT INTO users ({', '.join(USER_COLS)}) VALUES ({marks})", rows)
            conn.executemany("INSERT INTO changes (tenant_id, revision, kind, ref) VALUES (?, ?, 'user', ?)",
                             [(tid, revision, r[0]) for r in batch])
            n_users += len(batch)
        log(f"   {n_users} users written ({time.perf_counter() - t0:.1f}s)")
        marks = ", ".join("?" * len(REL_COLS))
        n_rels = 0
        for batch in _chunks(big.relationships(), BATCH):
            conn.executemany(f"INSERT INTO relationships ({', '.join(REL_COLS)}) VALUES ({marks})",
                             [(tid, *t, revision) for t in batch])
            conn.executemany("INSERT INTO changes (tenant_id, revision, kind, ref) VALUES (?, ?, 'relationship', ?)",
                             [(tid, revision, SEP.join(t)) for t in batch])
            n_rels += len(batch)
            if n_rels % 200_000 < BATCH:
                log(f"   {n_rels} relationships written ({time.perf_counter() - t0:.1f}s)")
        conn.execute("UPDATE tenants SET user_count = (SELECT count(*) FROM users WHERE tenant_id = ?) WHERE id = ?",
                     (tid, tid))
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()
    return {"tenant": tenant_key, "users": n_users, "relationships": n_rels, "folders": big.n_folders,
            "documents": big.n_docs, "revision_before": before, "revision_after": revision,
            "change_rows": n_users + n_rels, "fill_seconds": round(time.perf_counter() - t0, 1)}
