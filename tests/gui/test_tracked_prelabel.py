"""A tracked pre-label stores no person of a video without a track id: a low-score person that matches no
track is not stored (measured against a tentative track in docs/tracking.md) (issue 25, defect 3)."""

from __future__ import annotations

import numpy as np

from .conftest import prelabel_choice

CONFIDENT = (5.0, 5.0, 60.0, 100.0)  # a person the detector is sure of, in every frame
DOUBTFUL = (100.0, 10.0, 50.0, 100.0)  # a partly hidden person: box score 0.4 x pose score 0.5 = 0.2


class TwoPeople:
    """A detector that finds the same two people in every frame, one of them with a low score."""

    name = "two-people"

    def detect(self, image_rgb: np.ndarray):
        return np.array([CONFIDENT, DOUBTFUL]), np.array([0.9, 0.4])


def test_a_tracked_prelabel_stores_no_person_without_a_track_id(
    qtbot, project_window, small_video, monkeypatch
):
    from distilpose.app.project import prelabel

    monkeypatch.setattr(prelabel, "make_detector", lambda *args, **kwargs: TwoPeople())
    win, state = project_window, project_window.state
    assert win.editor.add_video_frames(small_video, 1)
    media = state.current_media_id()
    with qtbot.waitSignal(win.project.prelabelFinished, timeout=30_000):
        assert win.project.prelabel(True, choice=prelabel_choice())
    store = state.project
    video = [p for f in store.frames(media) for p in store.instances(f.id)]
    assert len(video) == 12  # the confident person on each of the 12 frames
    assert [p for p in video if p.track_id is None] == []
    assert {p.track_id for p in video} == {1}
    assert all(p.score is not None and p.score > 0.3 for p in video)
    image = next(r.frame_id for r in state.frames if r.kind == "image")
    assert len(store.instances(image)) == 2  # a still image is not tracked: both people stay
