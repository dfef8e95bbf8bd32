"""Tracks in the app: pre-labelling a video gives each person one id, the live view labels and colours ids,
the Tracks menu fixes identity (one undo step each), interpolation, and the Frames dock's track filter."""

from __future__ import annotations

import numpy as np

from distilpose.app.live.overlays import track_color
from distilpose.types import Instance

from .conftest import POSE, prelabel_choice, wait_idle


def _video_project(win, small_video) -> int:
    assert win.editor.add_video_frames(small_video, 1)
    return win.state.current_media_id()


def _person(x: float, track: int | None) -> Instance:
    kp = np.zeros((17, 3))
    kp[:, 0] = x + POSE[:, 0] * 40
    kp[:, 1] = 10 + POSE[:, 1] * 100
    kp[:, 2] = 2
    return Instance(keypoints=kp, track_id=track)


def _people(win, media: int, people: dict[int, float], frames=range(12), verified: bool = False) -> None:
    """Store people (track -> x) on frames of the video, then show the store's state."""
    store = win.state.project
    for f in frames:
        frame_id = store.frame_at(media, f).id
        for track, x in people.items():
            store.add_instance(frame_id, _person(x + f, track), verified=verified)
    win.state.refresh_frames()
    win.state.reload_instances()


def _tracks(win, media: int, track: int) -> list[int]:
    return sorted(win.state.project.tracking.track_instances(media, track))


def _select(win, frame: int, track: int) -> None:
    assert win.go_to_frame(frame)
    index = next(i for i, p in enumerate(win.state.instances) if p.track_id == track)
    win.state.set_selection([index])


def test_prelabel_tracks_the_video_and_one_undo_removes_it(qtbot, project_window, small_video):
    win, state = project_window, project_window.state
    media = _video_project(win, small_video)
    with qtbot.waitSignal(win.project.prelabelFinished, timeout=30_000):
        assert win.project.prelabel(True, choice=prelabel_choice())  # the image and the 12 video frames, off the GUI thread
    store = state.project
    video = [p for f in store.frames(media) for p in store.instances(f.id)]
    assert len(video) == 12 and {p.track_id for p in video} == {1}
    image = next(r.frame_id for r in state.frames if r.kind == "image")
    assert [p.track_id for p in store.instances(image)] == [None]  # an image has no track
    win.project.undo_action.trigger()
    assert store.counts()["instances"] == 0


def test_live_view_labels_each_id_in_its_colour(qtbot, project_window, small_video):
    win, state = project_window, project_window.state
    assert win.open_video(small_video)
    win.live.set_enabled(True)
    for f in (3, 4):
        win.go_to_frame(f)
        qtbot.waitUntil(lambda f=f: state.prediction is not None and state.prediction.index == f, timeout=20_000)
    wait_idle(qtbot, state)
    [person] = state.prediction.instances
    assert person.track_id == 1
    layer = win.canvas.prediction_layer
    [tag] = layer.track_tags
    assert tag.text() == "track 1" and tag.brush().color() == track_color(1)
    assert track_color(1) != track_color(2)


def test_tracks_menu_fixes_identity_one_undo_step_each(qtbot, project_window, small_video):
    win, state = project_window, project_window.state
    media = _video_project(win, small_video)
    _people(win, media, {1: 0.0, 2: 80.0})
    answers = []
    win.dialogs.integer = lambda *args: answers.pop(0)

    _select(win, 6, 1)
    win.tracks.split_action.trigger()
    assert _tracks(win, media, 3) == list(range(6, 12))
    answers.append(3)
    _select(win, 5, 1)
    win.tracks.merge_action.trigger()  # track 3 back into track 1
    assert _tracks(win, media, 1) == list(range(12)) and _tracks(win, media, 3) == []
    answers.append(2)
    _select(win, 4, 1)
    win.tracks.swap_action.trigger()  # 1 <-> 2 from frame 4 on
    assert state.project.instance(state.instances[0].extras["id"]).track_id == 2
    assert _tracks(win, media, 1) == list(range(12))  # still in every frame, now the other person from 4 on
    xs = {f: inst.keypoints[0, 0] - f for f, inst in state.project.tracking.track_instances(media, 1).items()}
    assert {round(xs[f]) for f in range(4)} == {20} and {round(xs[f]) for f in range(4, 12)} == {100}
    for _ in range(3):
        win.project.undo_action.trigger()
    assert _tracks(win, media, 1) == list(range(12)) and _tracks(win, media, 2) == list(range(12))
    assert _tracks(win, media, 3) == []
    xs = {f: inst.keypoints[0, 0] - f for f, inst in state.project.tracking.track_instances(media, 1).items()}
    assert {round(v) for v in xs.values()} == {20} and not win.errors

    answers.append(2)  # person 1 on frame 4 cannot also be called 2: person 2 is
    _select(win, 4, 1)
    win.tracks.set_id_action.trigger()
    assert win.errors and "two people with track id 2" in win.errors[-1][1]
    assert _tracks(win, media, 2) == list(range(12))


def test_interpolation_from_the_previous_keyframe_is_one_undo_step(qtbot, project_window, small_video):
    win, state = project_window, project_window.state
    media = _video_project(win, small_video)
    _people(win, media, {1: 0.0}, frames=(0, 8), verified=True)
    _select(win, 8, 1)
    win.tracks.interpolate_action.trigger()
    got = state.project.tracking.track_instances(media, 1)
    assert sorted(got) == list(range(9))
    assert all(got[f].extras.get("interpolated") for f in range(1, 8))
    np.testing.assert_allclose(got[4].keypoints[:, 0], (got[0].keypoints[:, 0] + got[8].keypoints[:, 0]) / 2)
    assert win.go_to_frame(4)
    [item] = win.canvas.instance_items
    assert item.track_tag is not None and item.track_tag.text() == "track 1 · interpolated"
    win.project.undo_action.trigger()
    assert sorted(state.project.tracking.track_instances(media, 1)) == [0, 8]


def test_frames_dock_filters_by_track(qtbot, project_window, small_video):
    win, state = project_window, project_window.state
    media = _video_project(win, small_video)
    _people(win, media, {1: 0.0}, frames=range(0, 12))
    _people(win, media, {2: 80.0}, frames=(2, 5, 9))
    dock = win.frame_list
    assert win.go_to_frame(5)
    texts = [dock.track_box.itemText(i) for i in range(dock.track_box.count())]
    assert len(texts) == 3 and "track 2 · 3 frames, 2–9" in texts[2]
    dock.track_box.setCurrentIndex(2)
    assert [r.index for r in dock.model.rows] == [2, 5, 9] and dock.table.currentIndex().row() == 1
    dock.step(1)
    assert state.frame_index == 9
    dock.track_box.setCurrentIndex(0)
    assert len(dock.model.rows) == len(state.frames) == 13


def test_a_300_frame_video_prelabels_off_the_gui_thread_and_cancel_keeps_the_tracked_frames(
    qtbot, project_window, tmp_path, fake_loader
):
    from .conftest import write_video

    win, state = project_window, project_window.state
    fake_loader.delay_s = 0.005
    video = write_video(tmp_path / "long.mp4", 300, size=(64, 48))
    media = _video_project(win, video)
    assert len(state.project.frames(media)) == 300
    progress = []
    with qtbot.waitSignal(win.project.prelabelFinished, timeout=60_000) as finished:
        assert win.project.prelabel(True, choice=prelabel_choice())
        win.project.prelabel_thread.progress.connect(lambda done, total: progress.append((done, total)))
        qtbot.waitUntil(lambda: len(progress) >= 10, timeout=60_000)  # the GUI thread keeps running meanwhile
        win.project.prelabel_dialog.canceled.emit()
    done = finished.args[0]
    assert 10 <= done < 301 and progress[-1][1] == 301  # the image and the 300 frames
    kept = [p for f in state.project.frames(media) for p in state.project.instances(f.id)]
    assert len(kept) in (done, done - 1)  # every finished frame is kept (the image may be one of them)
    assert {p.track_id for p in kept} == {1}  # one person, one id, all the way


def test_a_predictions_track_caption_sits_under_its_box_clear_of_the_accept_caption(qtbot):
    from PySide6.QtCore import QPointF

    from distilpose.app.annotate.canvas_items import InstanceItem

    kp = np.zeros((17, 3))
    kp[:, :2] = [[100 + 3 * k, 50 + 10 * k] for k in range(17)]
    kp[:, 2] = 2
    box = (100.0, 50.0, 60.0, 170.0)
    predicted = InstanceItem(0, Instance(kp, bbox=box, score=0.8, source="student", track_id=3))
    assert predicted.tag is not None and predicted.tag.pos() == QPointF(100, 50)  # above the top left
    assert predicted.track_tag.text() == "track 3"
    assert predicted.track_tag.pos() == QPointF(160, 220)  # under the bottom right: no overlap
    placed = InstanceItem(0, Instance(kp, bbox=box, source="user", track_id=3))
    assert placed.tag is None and placed.track_tag.pos() == QPointF(160, 50)  # nothing above: top right
