"""The exporter registry: every registered format exports through one signature, the CLI has one command per
format with that format's image modes and options, and unknown modes/options are refused before writing."""

from __future__ import annotations

import argparse

import pytest

from distilpose.cli import build_parser, main
from distilpose.errors import DistilPoseError
from distilpose.project import ProjectStore
from distilpose.project.formats import EXPORTERS, DatasetFormat, ExportOption, dataset_format
from tests.unit.test_project_support import imported_project


@pytest.fixture
def project(tmp_path):
    return imported_project(tmp_path, seed=4)


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_every_registered_format_exports_through_one_signature(project, tmp_path, name):
    fmt = EXPORTERS[name]
    for mode in fmt.image_modes:
        out = tmp_path / f"{name}-{mode}"
        with ProjectStore.open(project) as store:
            report = fmt.export(store, out, only_verified=True, splits=None, images=mode, overwrite=False)
        assert (out / fmt.done).is_file() and report.summary()


def test_unknown_modes_options_and_formats_are_refused_before_writing(project, tmp_path):
    with ProjectStore.open(project) as store:
        with pytest.raises(DistilPoseError, match="unknown image mode 'none'"):
            dataset_format("yolo").export(store, tmp_path / "a", images="none")
        with pytest.raises(DistilPoseError, match="has no option posetrack"):
            dataset_format("coco").export(store, tmp_path / "b", options={"posetrack": True})
    with pytest.raises(DistilPoseError, match="known: coco, yolo"):
        dataset_format("voc")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def _subcommand(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    for name in names:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def test_the_cli_has_one_command_per_format_with_its_image_modes(monkeypatch):
    parser = build_parser()
    for name, fmt in EXPORTERS.items():
        sub = _subcommand(parser, "project", f"export-{name}")
        images = next(a for a in sub._actions if a.dest == "images")
        assert tuple(images.choices) == fmt.image_modes and images.default == fmt.image_modes[0]


def test_a_format_option_becomes_a_cli_flag_and_reaches_the_writer(project, tmp_path, monkeypatch):
    """How PoseTrack fields join COCO export: an option in the registry, a keyword of the writer."""
    seen = {}

    def write(store, out_dir, *, only_verified, splits, images, overwrite, with_tracks=False):
        seen.update(out=out_dir, only=only_verified, splits=splits, images=images, tracks=with_tracks)

        class Report:
            def summary(self):
                return "nothing"

        return Report()

    fake = DatasetFormat(
        name="probe", title="Probe", help="h", description="d", image_modes=("none",), done="x", check_note="",
        write=write, options=(ExportOption("with_tracks", "add track fields"),),
    )  # fmt: skip
    monkeypatch.setitem(EXPORTERS, "probe", fake)
    out = tmp_path / "probe"
    assert main(["project", "export-probe", str(project), str(out), "--with-tracks", "--split", "val"]) == 0
    assert seen == {"out": str(out), "only": False, "splits": ["val"], "images": "none", "tracks": True}
