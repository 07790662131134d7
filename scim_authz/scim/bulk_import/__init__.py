"""Bulk import of users, groups and memberships from a file (`scim-authz import FILE --tenant T`).

    sources.py   the input as records: CSV (columns.py maps columns to SCIM attributes), JSON, JSON Lines
    validate.py  each document made canonical exactly as POST /Users and POST /Groups make it
    writer.py    batches written with a few statements each, noting the changes a directory write notes
    run.py       the run: validate, batch, one transaction per batch, a problem per row that fails

The SCIM edge reading documents from a file instead of HTTP, so they are made canonical by the
same code as a POST. No Flask but in command.py, the CLI command (registered by scim_authz/cli.py):
it opens the source, sets the actor and shows progress.
"""
from scim_authz.scim.bulk_import.columns import parse_maps
from scim_authz.scim.bulk_import.errors import BulkImportError, Problem, RowError, UnusableInput
from scim_authz.scim.bulk_import.run import DEFAULT_BATCH, Importer, Options, Summary
from scim_authz.scim.bulk_import.sources import FORMATS, Source, detect_format

__all__ = ["DEFAULT_BATCH", "FORMATS", "BulkImportError", "Importer", "Options", "Problem", "RowError", "Source",
           "Summary", "UnusableInput", "detect_format", "parse_maps"]
