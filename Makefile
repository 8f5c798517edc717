# The two commands of the README: `make demo` and `make test`.  Each builds .venv when needed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= demo-workspace

.PHONY: venv demo test bench bench-quick clean

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

test: venv
	$(PY) -m pytest -q -p no:cacheprovider

bench: venv
	$(PY) -m bench.run

bench-quick: venv
	$(PY) -m bench.run --quick

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
