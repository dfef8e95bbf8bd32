"""Re-running pre-label after accepting predictions never duplicates a person (issue 23, defect 3).

The attack: pre-label, accept every prediction, pre-label again: every accepted person came back as a second
copy (10 of 10, same box, new track id; the export grew from 30 to 40 people). Pre-label now matches its new
predictions to the people who stay on the frame (same track id, else box and pose alike) and says how many it
kept, replaced and added."""

from __future__ import annotations

import numpy as np
import pytest

from distilpose.pipeline import FrameResult
from distilpose.prelabel import Prelabeller, outcome_counts, write_predictions
from distilpose.project import Edit, ProjectStore
from tests.unit.test_project_support import person
from tests.unit.test_project_tracks import write_avi


class ScriptedPipeline:
    """The model's people of each call, given in advance (a fake with explicit steps: the same two walkers
    every frame, shifted a little as a model's output is)."""

    def __init__(self, jitter: float = 0.0) -> None:
        self.calls = 0
        self.jitter = jitter

    def process(self, image: np.ndarray) -> FrameResult:
        self.calls += 1
        shift = self.jitter * (self.calls % 2)
        people = [
            person(x0=5.0 + shift, y0=2.0, source="student", scores=True, bbox=(5.0 + shift, 2.0, 16.0, 34.0), score=0.9),
            person(x0=40.0 - shift, y0=4.0, source="student", scores=True, bbox=(40.0 - shift, 4.0, 16.0, 34.0), score=0.8),
        ]
        h, w = image.shape[:2]
        return FrameResult(None, (w, h), np.zeros((2, 4)), np.ones(2), people)


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "p.dpproj"
    with ProjectStore.create(path) as store:
        media = store.add_media(write_avi(tmp_path / "clip.avi", 6), "video")
        frames = [store.add_frame(media, i) for i in range(5)]
    return path, frames


def _run(store, frames, track, jitter=0.0):
    labeller = Prelabeller(store, ScriptedPipeline(jitter), "student", track=track)
    return [step.outcome for step in labeller.run(frames)]


def _people(store, frames):
    return [i for f in frames for i in store.instances(f)]


@pytest.mark.parametrize("track", [True, False], ids=["tracked", "untracked"])
def test_pre_label_again_after_accepting_keeps_each_person_once(clip, track):
    path, frames = clip
    with ProjectStore.open(path) as store:
        first = _run(store, frames, track)
        assert outcome_counts(first) == "10 person(s) added, 0 prediction(s) replaced, 0 already there kept"
        for inst in _people(store, frames):
            Edit("accept_prediction", {"instance_id": inst.extras["id"]}).apply(store)
        accepted = {i.extras["id"]: i.track_id for i in _people(store, frames)}

        again = _run(store, frames, track, jitter=1.5)  # the model's boxes move a little between runs

        people = _people(store, frames)
        assert len(people) == 10, f"{len(people) - 10} accepted people came back as second copies"
        assert {i.extras["id"]: i.track_id for i in people} == accepted  # kept as they were
        assert outcome_counts(again) == "0 person(s) added, 0 prediction(s) replaced, 10 already there kept"


def test_a_new_person_is_added_and_old_predictions_replaced_beside_a_kept_one(clip):
    path, frames = clip
    with ProjectStore.open(path) as store:
        frame = frames[0]
        kept = store.add_instance(frame, person(x0=5.0, y0=2.0, bbox=(5.0, 2.0, 16.0, 34.0)), verified=True)
        old = store.add_instance(frame, person(x0=80.0, source="teacher"))
        new_people = [
            person(x0=5.5, y0=2.0, source="student", bbox=(5.5, 2.0, 16.0, 34.0)),  # the kept person again
            person(x0=200.0, y0=100.0, source="student", bbox=(200.0, 100.0, 16.0, 34.0)),  # someone new
        ]
        outcome = write_predictions(store, frame, new_people)
        assert outcome.kept == [kept] and [r.extras["id"] for r in outcome.replaced] == [old]
        assert len(outcome.added) == 1 and store.instance(outcome.added[0]).keypoints[0, 0] == 200.0
        assert sorted(i.extras["id"] for i in store.instances(frame)) == sorted([kept, *outcome.added])


def test_a_prediction_with_the_track_id_of_a_kept_person_is_that_person(clip):
    path, frames = clip
    with ProjectStore.open(path) as store:
        kept = store.add_instance(frames[0], person(x0=5.0, track_id=3), verified=True)
        far = person(x0=300.0, y0=200.0, source="student", track_id=3)  # moved a lot, same track
        outcome = write_predictions(store, frames[0], [far])
        assert outcome.kept == [kept] and outcome.added == []


@pytest.mark.slow
def test_the_cli_pre_labels_again_without_copies_and_says_so(tmp_path, capsys):
    """The attack's case end to end: a real model, accept everything, pre-label again, export."""
    from distilpose.cli import main
    from tests.conftest import require_zoo_model
    from tests.unit.test_cli_project_batch import _sample_project

    require_zoo_model("movenet-lightning")
    project = tmp_path / "p.dpproj"
    assert main(["project", "create", str(project)]) == 0
    _sample_project(project, tmp_path)
    args = ["project", "prelabel", str(project), "--model", "movenet-lightning", "--track", "--detector", "full-frame"]
    assert main(args) == 0
    assert ": 5 person(s) added, 0 prediction(s) replaced, 0 already there kept" in capsys.readouterr().out
    with ProjectStore.open(project) as store:
        for frame in store.frames():
            for inst in store.instances(frame.id):
                store.accept_prediction(inst.extras["id"])
    assert main(args) == 0
    assert ": 0 person(s) added, 0 prediction(s) replaced, 5 already there kept" in capsys.readouterr().out
    assert main(["project", "export-coco", str(project), str(tmp_path / "out"), "--images", "none"]) == 0
    assert "5 annotation(s)" in capsys.readouterr().out


def test_pre_label_again_continues_the_ids_of_the_people_kept(clip):
    """Accept the first three frames only and pre-label again: the two walkers keep one id each across all
    five frames (the tracker carries the kept people's ids on, rather than starting new ones)."""
    path, frames = clip
    with ProjectStore.open(path) as store:
        _run(store, frames, track=True)
        for inst in _people(store, frames[:3]):
            store.accept_prediction(inst.extras["id"])
        store.conn.raw.execute("UPDATE instances SET track_id = track_id + 10")  # ids the tracker would not pick
        again = _run(store, frames, track=True, jitter=1.5)
        assert outcome_counts(again) == "4 person(s) added, 4 prediction(s) replaced, 6 already there kept"
        by_x = {}
        for f in frames:
            for inst in store.instances(f):
                by_x.setdefault(inst.keypoints[0, 0] < 20, set()).add(inst.track_id)
        assert by_x == {True: {11}, False: {12}}
