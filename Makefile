# The two commands of the README: `make demo` and `make test`.  Each builds .venv when needed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= demo-workspace

DEMO_ADMIN ?= admin@demo.example
DEMO_PASSWORD ?= retentio-demo
PORT ?= 8000

.PHONY: venv demo test bench bench-quick clean serve screenshots bench-app browser-deps

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

demo: venv
	$(VENV)/bin/retentio demo --workspace $(DEMO_DIR) --force
	$(VENV)/bin/retentio metrics --workspace $(DEMO_DIR) --period last --format table
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

test: venv browser-deps
	$(PY) -m pytest -q -p no:cacheprovider

bench: venv
	$(PY) -m bench.run

bench-quick: venv
	$(PY) -m bench.run --quick

serve: venv
	$(VENV)/bin/retentio serve --workspace $(DEMO_DIR) --host 127.0.0.1 --port $(PORT)

# The browser tests and screenshots drive Debian's Chromium (no browser download).
browser-deps:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

screenshots: venv browser-deps
	$(PY) scripts/screenshots.py --workspace $(DEMO_DIR) --out docs/screenshots

bench-app: venv
	$(PY) -m bench.app_bench --accounts 2000

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
