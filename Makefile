.PHONY: run test bench lint format

run:  ## set up and start the whole console (SQLite + a local Redis by default)
	scripts/run.sh

test:  ## set up and run the whole suite against throwaway PostgreSQL + Redis
	scripts/test.sh

bench:  ## measure the performance figures against their floors
	scripts/bench.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports --no-logo --no-cache

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
