# Two commands do everything: `make run` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Eager torch re-faults freed memory on every call on these VMs; keep large blocks mapped.
export GLIBC_TUNABLES := glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296

.PHONY: run test setup sysdeps lint clean-venv

setup: $(STAMP) sysdeps

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

sysdeps:
	@bash packaging/qt_system_deps.sh

run: setup
	$(BIN)/python -m distilpose.app.launch

lint: setup
	$(BIN)/ruff check .

test: setup
	$(BIN)/ruff check .
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

clean-venv:
	rm -rf $(VENV)
