# The two commands of the README: `make demo` and `make test`.  Each builds .venv when needed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= demo-workspace
# The demo book ends with the last complete month (retentio.clock: a month is complete on its
# last day): that month's last day is the demo's "today".
DEMO_AS_OF := $(shell if [ "$$(date -d tomorrow +%d)" = 01 ]; then date +%F; else date -d "$$(date +%Y-%m-01) -1 day" +%F; fi)

DEMO_ADMIN ?= admin@demo.example
DEMO_PASSWORD ?= retentio-demo
PORT ?= 8000

.PHONY: venv bytecode demo test check browser bench bench-quick clean serve screenshots bench-app

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,spark,app]'
	@$(MAKE) --no-print-directory bytecode
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

# The editable install leaves src/ uncompiled, and where PYTHONDONTWRITEBYTECODE is set (as
# in many containers) every command would compile Retentio's modules again: ~40 ms of each
# process.  compileall writes what is missing or stale, as a wheel's install would.
bytecode:
	@$(PY) -m compileall -q src > /dev/null

demo: venv bytecode
	$(VENV)/bin/retentio demo --workspace $(DEMO_DIR) --force
	$(VENV)/bin/retentio metrics --workspace $(DEMO_DIR) --period last --format table
	@echo ""
	@echo "Health bands on $(DEMO_AS_OF) (the demo book's last day):"
	$(VENV)/bin/retentio health score --workspace $(DEMO_DIR) --as-of $(DEMO_AS_OF) --summary
	@echo ""
	@echo "Does the health score predict churn here? (backtest, 3-month horizon)"
	$(VENV)/bin/retentio health backtest --workspace $(DEMO_DIR) --as-of $(DEMO_AS_OF) --format table
	@echo ""
	@echo "What the default playbooks would do (dry run):"
	$(VENV)/bin/retentio playbooks run --workspace $(DEMO_DIR) --as-of $(DEMO_AS_OF) --dry-run --summary
	@echo ""
	@echo "Demo workspace ready in ./$(DEMO_DIR). Next:"
	@echo "  $(VENV)/bin/retentio metrics  --workspace $(DEMO_DIR) --period last-12 --format csv"
	@echo "  $(VENV)/bin/retentio cohorts  --workspace $(DEMO_DIR) --format table"
	@echo "  $(VENV)/bin/retentio explain nrr --workspace $(DEMO_DIR) --period last"
	@echo "  $(VENV)/bin/retentio --help"
	@echo "$(DEMO_PASSWORD)" | $(VENV)/bin/retentio users create --workspace $(DEMO_DIR) --email $(DEMO_ADMIN) --role admin --name "Demo Admin" --password-stdin --format json > /dev/null 2>&1 || echo "  (the demo login exists already)"
	@echo ""
	@echo "Web app: make serve, then open http://127.0.0.1:$(PORT)/"
	@echo "  log in as $(DEMO_ADMIN) / $(DEMO_PASSWORD)   (API reference: http://127.0.0.1:$(PORT)/api/docs)"

# The whole suite (what CI runs), on both cores; every Spark test in one worker, so one
# Spark session serves the run.
test: venv browser
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup

# The edit loop: everything but Spark, PostgreSQL and the tests marked slow (browser, OpenAPI
# fuzzing, property tests with many examples, model training ...); `make test` runs them all.
check: venv
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup -m "not spark and not postgres and not slow"

# Debian's Chromium for the browser tests (they skip, saying why, when it cannot be installed).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
	  || echo "chromium could not be installed: the browser tests will be skipped"; }

bench: venv
	$(PY) -m bench.run

bench-quick: venv
	$(PY) -m bench.run --quick

serve: venv
	$(VENV)/bin/retentio serve --workspace $(DEMO_DIR) --host 127.0.0.1 --port $(PORT)

screenshots: venv browser
	$(PY) scripts/screenshots.py --workspace $(DEMO_DIR) --out docs/screenshots

bench-app: venv
	$(PY) -m bench.app_bench --accounts 2000

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
