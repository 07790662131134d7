# Quick start: `make run` (serve a demo tenant on 127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
FLASK  := $(BIN)/flask --app wsgi
# Set TEST_DATABASE_URL=postgresql+psycopg://… to run the suite on PostgreSQL too.
TEST_DATABASE_URL ?=
# One test process per core (pytest-xdist); PYTEST_ARGS= runs the suite in one process.
PYTEST_ARGS ?= -n auto

.PHONY: install run migrate demo token lint test test-sqlite test-postgres screenshots bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo

token: install
	$(FLASK) tokens issue demo --name "issued by make token"

# Plain log lines for a terminal; production keeps gunicorn's default, one JSON object per line.
run: demo
	LOG_FORMAT=$${LOG_FORMAT:-text} $(BIN)/gunicorn -c config/gunicorn.conf.py wsgi:app

# ruff's rules are in pyproject.toml; the suite runs only on code that passes them.
lint: install
	$(BIN)/ruff check .

test: lint
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$(TEST_DATABASE_URL)" ]; then $(MAKE) --no-print-directory test-postgres; \
	 else echo "TEST_DATABASE_URL is not set: the suite ran on SQLite only."; fi

test-sqlite: install
	@echo "== test suite on SQLite"
	TEST_DATABASE_URL= $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: install
	@echo "== test suite on $(TEST_DATABASE_URL)"
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The console's pages as PNGs in docs/screenshots/ (needs Debian's chromium: apt-get install -y chromium).
screenshots: install
	SCREENSHOTS=1 TEST_DATABASE_URL= $(BIN)/python -m pytest tests/admin/test_console_browser.py tests/admin/test_tenants_browser.py

bench: install
	$(BIN)/python bench/scim_peer.py
	$(BIN)/python bench/scim_scale.py

clean:
	rm -rf $(VENV) instance .pytest_cache
