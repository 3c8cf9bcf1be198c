# The newcomer commands (see README): `make run` (the studio at http://127.0.0.1:3000),
# `make convert BOOK=...` (the CLI) and `make test`. Each sets everything up first
# (scripts/setup.sh: .venv, pinned deps, console script; scripts/web_tools.sh: Node 22,
# bun and, for the tests, chromium).
SHELL := /bin/bash
BOOK ?=
OUT ?= out/$(basename $(notdir $(BOOK)))
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup setup-dev run convert inspect test lint bench clean

setup:
	@scripts/setup.sh requirements.txt

setup-dev:
	@scripts/setup.sh requirements-dev.txt

run:
	@scripts/run.sh

convert: setup
	@if [ -z "$(BOOK)" ]; then echo "usage: make convert BOOK=path/to/book.epub [OUT=folder] [ARGS='--chapters 1-3']" >&2; exit 2; fi
	.venv/bin/audiobook convert "$(BOOK)" -o "$(OUT)" --jobs $(JOBS) $(ARGS)

inspect: setup
	.venv/bin/audiobook inspect "$(BOOK)"

test: setup-dev
	@scripts/web_tools.sh --browser
	@scripts/epubcheck.sh || echo "epubcheck could not be installed: the read-along checks skip (fail under CI)"
	@scripts/services.sh
	.venv/bin/python -m pytest $(PYTEST_ARGS)

lint: setup-dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench: setup-dev
	@scripts/services.sh
	.venv/bin/python bench/pipeline_vs_piper.py
	.venv/bin/python bench/assemble_20h.py
	.venv/bin/python bench/jobs_throughput.py

clean:
	rm -rf out .pytest_cache
