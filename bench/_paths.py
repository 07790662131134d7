"""Where things are: the repository, bench/ and the venv's bin.

Importing this also puts the repository first on sys.path, so that a benchmark imports the product
from the checkout it sits in (the one `product_state` names), whatever else is installed.
"""
from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent                                 # the repository (wsgi.py, config/, migrations/)
BIN = Path(sys.executable).parent                       # the venv's bin: flask, gunicorn, scim2-server

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
