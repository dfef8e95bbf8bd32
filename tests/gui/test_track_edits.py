"""Track edits act on the whole track from the shown frame on, and interpolation fills the project's frames
between two keyframes without duplicating anyone or touching verified people, adding video frames only when
asked (issue 25, defect 2)."""

from __future__ import annotations

import numpy as np

from .test_tracks_gui import _people, _select, _tracks


def _video_every_other_frame(win, small_video) -> int:
    """The 12-frame clip with every 2nd frame in the project: 0, 2, ..., 10."""
    assert win.editor.add_video_frames(small_video, 2)
    return win.state.current_media_id()


def _counts(win, media: int) -> dict[int, int]:
    store = win.state.project
    return {f.index: len(store.instances(f.id)) for f in store.frames(media)}


def test_fix_the_id_on_two_keyframes_then_interpolate_gives_one_person_per_frame(
    qtbot, project_window, small_video
):
    win, state = project_window, project_window.state
    media = _video_every_other_frame(win, small_video)
    store = state.project
    for f in range(0, 12, 2):  # the tracker called the person 3 on every frame: model predictions
        store.add_instance(store.frame_at(media, f).id, _prediction(f, track=3))
    state.refresh_frames()
    state.reload_instances()
    answers: list = [1]
    win.dialogs.integer = lambda *args: answers.pop(0)
    asked: list[tuple[str, list[str]]] = []
    choose = []

    def option(_parent, _title, text, options):
        asked.append((text, options))
        return choose.pop(0)

    win.dialogs.option = option
    steps = state.undo_stack.count()

    _select(win, 0, 3)
    win.tracks.set_id_action.trigger()  # id 1 for the whole track from frame 0 on: ONE step
    assert _tracks(win, media, 1) == [0, 2, 4, 6, 8, 10] and _tracks(win, media, 3) == []
    assert state.undo_stack.count() == steps + 1
    win.project.accept_action.trigger()  # keyframe 1: accepted (verified)
    _select(win, 8, 1)
    win.project.accept_action.trigger()  # keyframe 2
    keyframes = {f: store.tracking.track_instances(media, 1)[f] for f in (0, 8)}

    choose.append(0)  # fill the project's frames only
    win.tracks.interpolate_action.trigger()
    [(text, options)] = asked
    assert "3 frame(s) of the project lie between, and 4 frame(s) of the video" in text
    assert options == ["Fill the 3 project frame(s)", "Add the 4 video frame(s) and fill them too"]
    assert _counts(win, media) == {0: 1, 2: 1, 4: 1, 6: 1, 8: 1, 10: 1}  # no duplicate, no new frame
    got = store.tracking.track_instances(media, 1)
    assert all(got[f].extras.get("interpolated") for f in (2, 4, 6))
    np.testing.assert_allclose(
        got[4].keypoints[:, 0], (keyframes[0].keypoints[:, 0] + keyframes[8].keypoints[:, 0]) / 2
    )
    for f, inst in keyframes.items():  # the verified keyframes are untouched
        np.testing.assert_array_equal(got[f].keypoints, inst.keypoints)
        assert got[f].extras["verified"] and got[f].extras["id"] == inst.extras["id"]
    assert "on the 3 frame(s) between 0 and 8" in win.statusBar().currentMessage()
    win.project.undo_action.trigger()  # one step
    assert not any(p.extras.get("interpolated") for p in store.tracking.track_instances(media, 1).values())

    choose.append(1)  # now add the in-between video frames too
    win.tracks.interpolate_action.trigger()
    assert _counts(win, media) == {**{f: 1 for f in range(9)}, 10: 1}
    assert "4 frame(s) added" in win.statusBar().currentMessage()
    win.project.undo_action.trigger()
    assert sorted(_counts(win, media)) == [0, 2, 4, 6, 8, 10]
    assert not win.errors


def test_set_id_renames_the_track_from_this_frame_on_in_one_undo_step(qtbot, project_window, small_video):
    win, state = project_window, project_window.state
    assert win.editor.add_video_frames(small_video, 1)
    media = state.current_media_id()
    _people(win, media, {1: 0.0, 2: 80.0})
    win.dialogs.integer = lambda *args: 7
    _select(win, 5, 1)
    win.tracks.set_id_action.trigger()
    assert _tracks(win, media, 1) == list(range(5)) and _tracks(win, media, 7) == list(range(5, 12))
    assert _tracks(win, media, 2) == list(range(12))  # someone else
    assert state.undo_stack.undoText() == "Set track 1 to id 7 from frame 5 on"
    win.project.undo_action.trigger()
    assert _tracks(win, media, 1) == list(range(12)) and _tracks(win, media, 7) == []


def _prediction(frame: int, track: int):
    from .test_tracks_gui import _person

    inst = _person(10.0 + 4 * frame, track)
    inst.source = "student"
    inst.scores = np.full(17, 0.8)
    inst.score = 0.8
    inst.extras = {"model": "test"}
    return inst
