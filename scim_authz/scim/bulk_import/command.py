"""`scim-authz import FILE --tenant T` (also `flask --app wsgi import …`): users, groups and
memberships from a CSV, JSON or JSON Lines file, in batches. Thin, over
scim_authz/scim/bulk_import/; docs/scim.md, "Bulk import from a file".

Exit status: 0 when every row was imported (or was already there); 1 when some rows failed (the
others are committed) or the import stopped on a database error (the batches before it are
committed: run it again to go on); 2 when the input cannot be used at all (no such file, an
unknown format, columns that map to nothing, no such tenant), before anything is written.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time
from contextlib import contextmanager

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from scim_authz.cli_common import ActingCommand, Unusable
from scim_authz.db.txn import transaction
from scim_authz.policy.tenants import find_tenant
from scim_authz.scim.bulk_import import (
    DEFAULT_BATCH,
    FORMATS,
    Importer,
    Options,
    Problem,
    Source,
    Summary,
    UnusableInput,
    detect_format,
    parse_maps,
)

SHOWN = 10  # problems printed on stderr; --errors FILE has them all


@click.command("import", cls=ActingCommand)
@click.argument("path", metavar="FILE")
@click.option("--tenant", "tenant_key", required=True, help="The tenant to import into.")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="The format, when FILE's extension (.csv, .tsv, .json, .jsonl, .ndjson) does not say it.")
@click.option("--map", "maps", multiple=True, metavar="COLUMN=PATH",
              help='CSV: fill a SCIM attribute from a column, e.g. --map mail=email or '
                   '--map mail=\'emails[type eq "work"].value\'; --map COLUMN= ignores the column.')
@click.option("--delimiter", help="CSV: the cell delimiter (default: comma; tab for .tsv).")
@click.option("--update", is_flag=True, help="Replace the document of a user (or group) already present when "
              "the file's differs (default: leave it as it is).")
@click.option("--errors", "errors_path", metavar="FILE",
              help="Write every row that failed to FILE: CSV if it ends in .csv, else JSON Lines.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=DEFAULT_BATCH, show_default=True,
              help="Users per transaction (fewer: SQLite's write lock is held for less at a time).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar (there is none when stderr is not a terminal).")
@with_appcontext
def import_cmd(path, tenant_key, fmt, maps, delimiter, update, errors_path, batch_size, quiet):
    """Import users, groups and memberships from FILE into a tenant.

    Each user is validated and stored as POST /Users would; a user whose userName the tenant has is
    skipped (with --update, its document is replaced if it differs); groups are matched by
    displayName and created when missing; memberships already there are skipped. So it can run
    again: what is in is skipped."""
    with transaction(write=False):  # (ended before the batches: each begins as a write, on SQLite in its turn)
        tenant = find_tenant(tenant_key)
        if tenant is None:
            raise Unusable(f"no tenant {tenant_key!r}; create it with `scim-authz tenants create {tenant_key}`")
        tenant_id = tenant.id
    try:
        source = Source(path, detect_format(path, fmt), maps=parse_maps(maps), delimiter=delimiter)
    except UnusableInput as e:
        raise Unusable(str(e)) from e
    stopped = None
    with source, _problems_sink(errors_path) as sink:
        importer = Importer(tenant_id, Options(replace=update, batch_size=batch_size, source=os.path.basename(path)),
                            on_problem=sink)
        started = time.perf_counter()
        with _progress(source.total, quiet, sink) as advance:
            importer.on_progress = advance
            try:
                importer.run(source.records())
            except SQLAlchemyError as e:
                stopped = e
        _report(importer.summary, tenant_key, path, time.perf_counter() - started, sink)
    if stopped is not None:
        raise click.ClickException(
            f"the import stopped: {stopped.__class__.__name__}: {str(stopped).splitlines()[0]}. The batches before "
            "it are committed; run the same command again to go on (what is in is skipped).") from stopped
    if importer.summary.failed:
        sys.exit(1)


class _Sink:
    """Where problems go: the first SHOWN to stderr (`say`: above the progress bar while there is
    one), and all to the --errors file if given."""

    def __init__(self, out=None):
        self.out, self.count = out, 0
        self.say = lambda line: click.echo(line, err=True)
        self._csv = csv.writer(out) if out is not None and out.name.lower().endswith(".csv") else None
        if self._csv is not None:
            self._csv.writerow(["location", "kind", "name", "error"])

    def __call__(self, p: Problem) -> None:
        self.count += 1
        if self.count <= SHOWN:
            self.say(str(p))
        if self._csv is not None:
            self._csv.writerow([p.location, p.kind, p.name, p.error])
        elif self.out is not None:
            self.out.write(json.dumps({"location": p.location, "kind": p.kind, "name": p.name, "error": p.error},
                                      ensure_ascii=False) + "\n")


@contextmanager
def _problems_sink(errors_path: str | None):
    if errors_path is None:
        yield _Sink()
        return
    try:
        out = open(errors_path, "w", encoding="utf-8", newline="")
    except OSError as e:
        raise Unusable(f"cannot write {errors_path}: {e.strerror}") from e
    with out:
        yield _Sink(out)


@contextmanager
def _progress(total: int, quiet: bool, sink: _Sink):
    """A callback advancing a progress bar on stderr by the rows done (none when quiet or when
    stderr is not a terminal); the sink's lines are printed above it meanwhile."""
    if quiet or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task):
            return Text(f"{task.speed:,.0f} rows/s" if task.speed else "")

    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"), Rate(),
               TimeElapsedColumn(), TimeRemainingColumn())
    say = sink.say
    with Progress(*columns, console=Console(stderr=True, highlight=False), transient=True) as bar:
        task = bar.add_task("import", total=total or None)
        sink.say = lambda line: bar.console.print(line, markup=False)
        try:
            yield lambda n: bar.advance(task, n)
        finally:
            sink.say = say


def _report(s: Summary, tenant_key: str, path: str, seconds: float, sink: _Sink) -> None:
    rate = s.users / seconds if seconds > 0 else 0.0
    users = f"{s.users:,} user{'' if s.users == 1 else 's'}"
    click.echo(f"imported {path} into tenant {tenant_key} in {seconds:.1f} s: {users} ({rate:,.0f} users/s), "
               f"{s.transactions} transaction{'' if s.transactions == 1 else 's'}")
    click.echo(f"  users        created {s.users_created:,}, updated {s.users_updated:,}, "
               f"already present {s.users_present:,}, failed {s.users_failed:,}")
    click.echo(f"  groups       created {s.groups_created:,}, updated {s.groups_updated:,}, "
               f"already present {s.groups_present:,}, failed {s.groups_failed:,}")
    click.echo(f"  memberships  added {s.memberships_added:,}, already present {s.memberships_present:,}, "
               f"failed {s.memberships_failed:,}")
    if s.unreadable:
        click.echo(f"  unreadable rows {s.unreadable:,}")
    if sink.count:
        where = f"all of them are in {sink.out.name}" if sink.out is not None else "all of them: --errors FILE"
        more = f"{sink.count - SHOWN:,} more not shown; " if sink.count > SHOWN else ""
        click.echo(f"{sink.count:,} rows were not imported ({more}{where})", err=True)
