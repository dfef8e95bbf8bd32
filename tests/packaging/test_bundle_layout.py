"""The PyInstaller build's inputs, checked without running PyInstaller: what the spec bundles exists, lands where
the app looks for it at run time, and the spec is wired to it."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import distilpose.app.paths as app_paths
from distilpose.training.config import CONFIG_DIR
from tests.conftest import REPO_ROOT
from tests.packaging.support import SPEC_FILE, load_packaging_module

layout = load_packaging_module("bundle_layout")
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_bundled_source_exists_and_resources_land_where_the_app_looks() -> None:
    entries = dict((dest, source) for source, dest in layout.data_entries())
    for dest, source in entries.items():
        assert source.exists(), f"the spec bundles {source} (to {dest}), which does not exist"
    for name in layout.REQUIRED_RESOURCES:
        assert entries[f"{app_paths.RESOURCES_DIRNAME}/{name}"] == app_paths.resources_dir() / name
    # The sample make package renders and the window icon are inside the bundled folders.
    assert app_paths.default_sample().parent == entries["resources/samples"]
    assert app_paths.app_icon_path().parent == entries["resources/icons"]
    # distilpose.training.config finds its configs next to itself, i.e. under distilpose/training/ in the bundle.
    assert entries["distilpose/training/configs"] == CONFIG_DIR
    assert any(CONFIG_DIR.glob("*.json"))


def test_optional_models_folder_is_bundled_only_when_present(tmp_path: Path, monkeypatch) -> None:
    for name in ("icons", "samples"):
        (tmp_path / "resources" / name).mkdir(parents=True)
    monkeypatch.setattr(layout, "ROOT", tmp_path)
    assert "resources/models" not in {dest for _, dest in layout.data_entries()}
    (tmp_path / "resources" / "models" / "distilpose-mnv2").mkdir(parents=True)
    entries = {dest: source for source, dest in layout.data_entries()}
    assert entries["resources/models"] == tmp_path / "resources" / "models"


def test_package_dirs_match_pyproject() -> None:
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == layout.PACKAGE_DIRS


def test_staged_sources_import_from_the_copy(tmp_path: Path) -> None:
    staged = layout.stage_sources(tmp_path / "src")
    assert (staged / "distilpose" / "app" / "main.py").read_bytes() == (
        REPO_ROOT / "app" / "main.py"
    ).read_bytes()
    assert (staged / "distilpose" / "training" / "configs").is_dir()
    assert (staged / "distilpose" / "app" / "jobs" / "process.py").is_file()
    assert not list(staged.rglob("__pycache__"))
    stale = staged / "distilpose" / "app" / "removed_module.py"
    stale.write_text("")
    layout.stage_sources(staged)  # a rebuild starts from a clean copy: deleted modules do not linger
    assert not stale.exists()
    # PyInstaller's finder walks sys.path folders; the staged folder must win over the editable install.
    code = "import distilpose.app.jobs.process as m, distilpose.training.config as c; print(m.__file__); print(c.__file__)"
    env = {**os.environ, "PYTHONPATH": str(staged)}
    out = subprocess.run(  # cwd: `python -c` puts it first on sys.path, and the repository root holds distilpose/
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    files = [Path(line) for line in out.stdout.splitlines()]
    assert files == [
        staged / "distilpose" / "app" / "jobs" / "process.py",
        staged / "distilpose" / "training" / "config.py",
    ]


def test_dropped_torch_test_programs_keep_the_shared_memory_manager() -> None:
    assert not layout.keep_in_bundle("torch/test/atest")
    assert not layout.keep_in_bundle("torch/bin/test_api")
    assert not layout.keep_in_bundle("torch\\bin\\protoc")
    assert layout.keep_in_bundle("torch/bin/torch_shm_manager")
    assert layout.keep_in_bundle("torch/lib/libtorch_cpu.so")
    assert layout.keep_in_bundle("torch/testing/__init__.py")  # imported by torch itself: not a test program


def test_hidden_imports_exist_and_no_excluded_module_is_imported_by_our_code() -> None:
    for name in (*layout.HIDDEN_IMPORTS, *layout.PACKAGES_WITH_SUBMODULES):
        assert importlib.util.find_spec(name) is not None, f"{name}: not importable"
    excluded = set(layout.EXCLUDES)
    offenders = []
    for folder in layout.PACKAGE_DIRS.values():
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    parts = name.split(".")
                    if any(".".join(parts[:i]) in excluded for i in range(1, len(parts) + 1)):
                        offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} imports {name}")
    assert not offenders, "the frozen build excludes modules the code imports:\n" + "\n".join(offenders)


def _spec_tree() -> ast.Module:
    return ast.parse(SPEC_FILE.read_text(encoding="utf-8"), str(SPEC_FILE))


def _calls(tree: ast.Module) -> dict[str, ast.Call]:
    return {
        node.func.id: node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


def _keyword(call: ast.Call, name: str) -> ast.expr:
    found = [kw.value for kw in call.keywords if kw.arg == name]
    assert found, f"{call.func.id}() has no {name}="
    return found[0]


def test_spec_is_a_one_folder_build_fed_from_the_layout() -> None:
    tree = _spec_tree()
    calls = _calls(tree)
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= set(calls), "a one-folder spec runs all four build steps"
    exe, collect, analysis = calls["EXE"], calls["COLLECT"], calls["Analysis"]
    assert ast.literal_eval(_keyword(exe, "exclude_binaries")) is True  # binaries go to COLLECT's folder
    for call in (exe, collect):
        assert ast.unparse(_keyword(call, "name")) == "layout.APP_NAME"
    assert ast.unparse(analysis.args[0]) == "[str(layout.ENTRY_SCRIPT)]"
    assert ast.unparse(_keyword(analysis, "excludes")) == "list(layout.EXCLUDES)"
    assert ast.unparse(_keyword(analysis, "pathex")) == "[str(sources)]"
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert {"data_entries", "stage_sources", "keep_in_bundle", "HIDDEN_IMPORTS", "METADATA"} <= used
    assert {"PACKAGES_WITH_SUBMODULES"} <= used


def test_app_name_is_the_gui_console_script_and_the_entry_script_exists() -> None:
    assert PYPROJECT["project"]["scripts"][layout.APP_NAME] == "distilpose.app.main:main"
    assert layout.ENTRY_SCRIPT.is_file()
    assert PYPROJECT["project"]["optional-dependencies"]["package"] == ["pyinstaller==6.22.3"]


def test_frozen_entry_dispatches_cli_train_and_app(tmp_path: Path, capsys) -> None:
    entry = load_packaging_module("frozen_entry")
    missing = tmp_path / "missing.json"
    assert entry.run([entry.CLI_FLAG, "train", str(missing), "--out", str(tmp_path / "run")]) == 2
    assert f"{missing}: config file not found" in capsys.readouterr().err
    from distilpose.app.jobs.process import RUN_TRAIN_FLAG

    assert entry.run([RUN_TRAIN_FLAG, str(missing), "--out", str(tmp_path / "run")]) == 2  # the job manager's
    assert capsys.readouterr().err.startswith("distilpose train: error:")
    with pytest.raises(SystemExit) as exited:
        entry.run(["--version"])  # anything else is the app's own command line
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("distilpose-studio ")
