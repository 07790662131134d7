"""Scratch PostgreSQL databases for the SCIM benchmarks: `bench_scim_*` on a loopback server only,
created fresh (a left-over of an interrupted run is dropped first) and dropped at the end."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from _report import log

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _libpq_url(url: str) -> str:
    """postgresql+psycopg://… or postgres://… as a URL psycopg.connect() takes."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def database_url_for(server_url: str, dbname: str) -> str:
    """The same server, another database; psycopg 3 driver for SQLAlchemy."""
    parts = urlsplit(_libpq_url(server_url))
    return urlunsplit(("postgresql+psycopg", parts.netloc, "/" + dbname, parts.query, ""))


class PgDatabase:
    """A scratch database `bench_scim_*` on a PostgreSQL server, created fresh and dropped on close."""

    def __init__(self, server_url: str, name: str):
        if not name.startswith("bench_scim") or not name.replace("_", "").isalnum():
            raise ValueError("benchmark databases are named bench_scim_*")
        host = urlsplit(_libpq_url(server_url)).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"only loopback PostgreSQL servers are used, not {host!r}")
        self.server_url, self.name = server_url, name
        self.url = database_url_for(server_url, name)

    @property
    def libpq_url(self) -> str:
        """The database's URL as psycopg.connect() takes it (self.url is SQLAlchemy's)."""
        return _libpq_url(self.url)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(_libpq_url(self.server_url), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create(self) -> PgDatabase:
        # Our own name only: a left-over of an interrupted run of this script.
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        try:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception as e:  # noqa: BLE001 - reported, the run goes on
            log(f"!! could not drop database {self.name}: {e}")
