"""Training config: strict keys with their path, placeholders, relative paths, bundled configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distilpose.training.config import (
    CONFIG_DIR,
    ConfigError,
    check_files,
    find_config,
    list_builtin_configs,
    load_config,
)


def _minimal(tmp_path: Path, **extra: object) -> dict:
    (tmp_path / "imgs").mkdir(exist_ok=True)
    (tmp_path / "ann.json").write_text("{}")
    cfg = {
        "model": {"name": "tokenpose-stemnet"},
        "data": {"train_ann": "ann.json", "train_images": "imgs"},
        "run": {"max_steps": 3},
    }
    cfg.update(extra)
    return cfg


def _write(tmp_path: Path, cfg: dict, name: str = "cfg.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(cfg))
    return path


def test_minimal_config_defaults_to_paper_recipe_and_resolves_relative_paths(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, _minimal(tmp_path)))
    assert cfg.name == "cfg"  # file stem
    assert cfg.mode == "teacher"
    assert cfg.data.train_ann == (tmp_path / "ann.json").resolve()
    assert cfg.data.train_images == (tmp_path / "imgs").resolve()
    assert cfg.optimizer.lr == 1e-3 and cfg.optimizer.weight_decay == 0.0
    assert cfg.schedule.warmup_iters == 500 and cfg.schedule.warmup_ratio == 0.001
    assert cfg.schedule.step_epochs == [200, 260]
    assert (cfg.loss.reg, cfg.loss.vis_token, cfg.loss.kpt_token, cfg.loss.sim_heatmap, cfg.loss.score) == (
        1.0,
        5e-4,
        5e-4,
        1.0,
        0.01,
    )
    check_files(cfg)  # everything exists


def test_unknown_key_is_reported_with_its_full_path(tmp_path: Path) -> None:
    raw = _minimal(tmp_path)
    raw["data"]["augment"] = {"flip_prob": 0.5, "rotate_factor": 40}
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, raw))
    assert "data.augment.rotate_factor: unknown key" in str(err.value)
    assert "cfg.json" in str(err.value)


def test_unknown_top_level_key_and_bad_value_are_both_listed(tmp_path: Path) -> None:
    raw = _minimal(tmp_path, optimiser={"lr": 1})
    raw["run"]["batch_size"] = 0
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, raw))
    text = str(err.value)
    assert "optimiser: unknown key" in text
    assert "run.batch_size:" in text


def test_budget_is_required(tmp_path: Path) -> None:
    raw = _minimal(tmp_path)
    raw["run"] = {"batch_size": 4}
    with pytest.raises(ConfigError, match="set 'epochs' or 'max_steps'"):
        load_config(_write(tmp_path, raw))


def test_placeholders_expand_and_unknown_ones_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCO_ROOT", str(tmp_path))
    raw = _minimal(tmp_path)
    raw["data"]["train_ann"] = "${COCO_ROOT}/ann.json"
    cfg = load_config(_write(tmp_path, raw))
    assert cfg.data.train_ann == tmp_path / "ann.json"

    raw["data"]["train_ann"] = "${NO_SUCH_THING_XYZ}/ann.json"
    with pytest.raises(ConfigError, match=r"data\.train_ann: unknown placeholder \$\{NO_SUCH_THING_XYZ\}"):
        load_config(_write(tmp_path, raw))


def test_missing_files_name_the_key(tmp_path: Path) -> None:
    raw = _minimal(tmp_path, teacher={"name": "tokenpose-stemnet", "weights": "nope.safetensors"})
    cfg = load_config(_write(tmp_path, raw))
    assert cfg.mode == "distill"
    with pytest.raises(ConfigError, match=r"teacher\.weights: file not found: .*nope\.safetensors"):
        check_files(cfg)


def test_invalid_json_and_missing_config_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": ')
    with pytest.raises(ConfigError, match=r"bad\.json: invalid JSON at line 1"):
        load_config(bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.json")


def test_yaml_without_pyyaml_is_a_clear_error_or_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model: {name: x}\n")
    try:
        import yaml  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(ConfigError, match="YAML configs need PyYAML"):
            load_config(path)
    else:
        with pytest.raises(ConfigError, match="data: Field required"):
            load_config(path)


@pytest.mark.parametrize("name", list_builtin_configs())
def test_every_bundled_config_validates(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COCO_ROOT", str(tmp_path))
    cfg = load_config(name)
    assert cfg.name == name
    assert find_config(name) == CONFIG_DIR / f"{name}.json"


def test_paper_configs_carry_the_recipe() -> None:
    names = set(list_builtin_configs())
    assert {
        "distilpose_s_coco_256x192",
        "distilpose_l_coco_256x192",
        "teacher_tokenpose_hrnet_w48_coco_256x192",
    } <= names
    s = load_config("distilpose_s_coco_256x192")
    assert s.model.name == "distilpose-s" and s.teacher is not None
    assert s.teacher.name == "tokenpose-hrnet-w48"
    assert s.run.epochs == 300 and s.run.batch_size == 32 and s.run.seed == 1087365040
    assert (s.data.augment.rot_factor, s.data.augment.scale_factor) == (45.0, 0.35)
    t = load_config("teacher_tokenpose_hrnet_w48_coco_256x192")
    assert t.mode == "teacher" and t.run.batch_size == 64
    assert (t.data.augment.rot_factor, t.data.augment.scale_factor) == (40.0, 0.5)
    lcfg = load_config("distilpose_l_coco_256x192")
    assert lcfg.model.init_backbone_from == lcfg.teacher.weights


def test_set_overrides_reach_the_validated_config():
    from distilpose.training.config import apply_overrides, load_config

    cfg = load_config(
        "distilpose_t_movenet_coco_mini",
        ["loss.sim_heatmap=0", "run.epochs=3", "teacher.token_adapter=true", "name=ablation"],
    )
    assert (
        cfg.loss.sim_heatmap == 0
        and cfg.run.epochs == 3
        and cfg.teacher.token_adapter
        and cfg.name == "ablation"
    )
    with pytest.raises(ConfigError, match="unknown key"):
        load_config("distilpose_t_movenet_coco_mini", ["loss.sim_heatmapp=0"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides({}, ["loss.sim_heatmap"])
    with pytest.raises(ConfigError, match="not a section"):
        apply_overrides({"name": "x"}, ["name.sub=1"])
    assert apply_overrides({}, ["a.b=text"]) == {"a": {"b": "text"}}
