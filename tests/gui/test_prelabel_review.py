"""Pre-labelling in a worker (one transaction per frame, one undo step per batch), accepting and rejecting
predictions, the review queue's order, frame suggestions, and freezing a live frame into the project."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from distilpose.app.project.review import disagreement_items, low_confidence_items, suggest_frames
from distilpose.project import ProjectStore
from distilpose.types import Instance

from .conftest import PRELABEL_MODEL, SCORES, add_grey_images, prelabel_choice, wait_idle

TEACHER = "tokenpose-stemnet"  # the fake loader shifts its keypoints by 0.05 of the crop


def _second_image(win, tmp_path) -> None:
    other = tmp_path / "second.png"
    assert cv2.imwrite(str(other), np.full((240, 240, 3), 120, np.uint8))
    assert win.editor.add_images([other])


def _prelabel(qtbot, win, all_frames: bool) -> None:
    with qtbot.waitSignal(win.project.prelabelFinished, timeout=20_000):
        assert win.project.prelabel(all_frames, choice=prelabel_choice())


def test_prelabel_accept_reject_and_undo(qtbot, project_window, tmp_path) -> None:
    win, state = project_window, project_window.state
    _second_image(win, tmp_path)
    win.live.update_settings(teacher=TEACHER)
    _prelabel(qtbot, win, all_frames=True)
    store = state.project
    first, second = (row.frame_id for row in state.frames)
    [a], [b] = store.instances(first), store.instances(second)
    for inst in (a, b):
        assert (inst.source, inst.extras["verified"], inst.extras["model"]) == (
            "student",
            False,
            PRELABEL_MODEL,
        )
        np.testing.assert_allclose(inst.scores, SCORES, atol=1e-6)
        # Below the display threshold (0.2: SCORES[:3] = 0.05, 0.11, 0.16) a keypoint is stored unlabelled.
        assert inst.keypoints[:, 2].tolist() == [0, 0, 0] + [2] * 14
        # The teacher is the student shifted by 0.05 of the 300 x 400 crop of the 240 x 240 frame box:
        # (15, 20) px apart, 25 px, divided by the box size sqrt(240 * 240).
        np.testing.assert_allclose(inst.extras["disagreement"], 25 / 240, rtol=1e-4)
        assert inst.extras["compared_with"] == TEACHER
    assert [r.status for r in state.frames] == ["to check", "to check"]
    assert state.undo_stack.text(state.undo_stack.count() - 1) == f"Pre-label 2 frame(s) with {PRELABEL_MODEL}"
    assert win.canvas.instance_items[0].prediction and win.canvas.instance_items[0].tag is not None
    assert win.canvas.instance_items[0].tag.text().startswith(f"{Path(PRELABEL_MODEL).name} ")  # who made it

    # Accept on the second frame (shown last), reject on the first.
    assert state.frame_id == second
    win.project.accept_action.trigger()
    accepted = store.instance(b.extras["id"])
    assert (accepted.source, accepted.extras["verified"], accepted.extras["accepted_from"]) == (
        "user",
        True,
        "student",
    )
    state.go_to_frame(first)
    win.project.reject_action.trigger()
    assert store.instances(first) == [] and state.instances == []
    assert [r.status for r in state.frames] == ["empty", "verified"]
    win.project.undo_action.trigger()  # the reject: back with the same id
    assert [i.extras["id"] for i in store.instances(first)] == [a.extras["id"]]
    win.project.undo_action.trigger()  # the accept, made on the other frame: it is shown again
    assert store.instance(b.extras["id"]).source == "student"
    assert state.frame_id == second and state.selected_instance_id() == b.extras["id"]
    win.project.undo_action.trigger()  # the whole batch
    assert store.counts()["instances"] == 0
    win.project.redo_action.trigger()
    assert sorted(i.extras["id"] for f in (first, second) for i in store.instances(f)) == sorted(
        [a.extras["id"], b.extras["id"]]
    )


def test_prelabel_again_replaces_predictions_but_keeps_people(qtbot, project_window) -> None:
    win, state = project_window, project_window.state
    assert win.editor.add_template((30, 30, 60, 150))
    person = state.selected_instance_id()
    _prelabel(qtbot, win, all_frames=False)
    _prelabel(qtbot, win, all_frames=False)
    people = state.project.instances(state.frame_id)
    assert [p.source for p in people] == ["user", "student"]  # one prediction, not two
    assert people[0].extras["id"] == person
    win.project.undo_action.trigger()  # the second batch: the first batch's prediction is back
    assert [p.source for p in state.project.instances(state.frame_id)] == ["user", "student"]
    win.project.undo_action.trigger()
    assert [p.source for p in state.project.instances(state.frame_id)] == ["user"]


def _prediction(scores, disagreement=None) -> Instance:
    kp = np.zeros((17, 3))
    kp[:, 0] = np.arange(17) * 5 + 10
    kp[:, 1] = 50
    kp[:, 2] = 2
    extras = (
        {"model": "hand"} if disagreement is None else {"model": "hand", "disagreement": list(disagreement)}
    )
    return Instance(keypoints=kp, bbox=(0, 0, 100, 100), scores=np.asarray(scores, float), source="student",
                    extras=extras)  # fmt: skip


def test_review_queue_orders_and_navigates(qtbot, project_window, tmp_path) -> None:
    win, state = project_window, project_window.state
    _second_image(win, tmp_path)
    store = state.project
    first, second = (row.frame_id for row in state.frames)
    s1, s2 = np.full(17, 0.9), np.full(17, 0.9)
    s1[[3, 7]] = (0.30, 0.10)
    s2[[0, 16]] = (0.20, 0.45)
    d1, d2 = np.zeros(17), np.zeros(17)
    d1[5], d2[5], d2[11] = 0.4, 0.05, 0.7
    i1 = store.add_instance(first, _prediction(s1, d1))
    i2 = store.add_instance(second, _prediction(s2, d2))
    verified = store.add_instance(first, _prediction(np.full(17, 0.01)), verified=True)  # checked: not listed
    state.refresh_frames()
    assert verified
    got = [(it.instance_id, it.k) for it in low_confidence_items(store, 0.5)]
    assert got == [(i1, 7), (i2, 0), (i1, 3), (i2, 16)]  # 0.10, 0.20, 0.30, 0.45
    got = [(it.instance_id, it.k, it.value) for it in disagreement_items(store)[:3]]
    assert got == [(i2, 11, 0.7), (i1, 5, 0.4), (i2, 5, 0.05)]

    review = win.review_queue
    review.set_queue("confidence")
    assert [review.table.item(r, 2).text() for r in range(review.table.rowCount())] == [
        "left_elbow", "nose", "left_ear", "right_ankle"
    ]  # fmt: skip
    assert review.table.item(0, 3).text() == "0.100"
    review.table.cellClicked.emit(1, 0)  # what a click does
    assert (state.frame_id, state.joint) == (second, (i2, 0))
    review.set_queue("disagreement")
    assert review.open_entry(1)
    assert (state.frame_id, state.joint) == (first, (i1, 5))

    # Suggestions are stored on the frames; lowest confidence first, largest disagreement first.
    # mean scores: first (15 * 0.9 + 0.3 + 0.1) / 17 = 0.818, second (15 * 0.9 + 0.2 + 0.45) / 17 = 0.832
    assert suggest_frames(store, "low confidence", 1) == [(first, "low confidence (mean score 0.82)")]
    assert suggest_frames(store, "disagreement", 2)[0][0] == second
    review.method_combo.setCurrentText("disagreement")
    review.count_spin.setValue(1)
    review.suggest_button.click()
    assert store.frame(second).suggested and store.frame(second).suggest_reason.startswith(
        "teacher and student"
    )
    assert review.queue() == "suggested" and review.table.rowCount() == 1
    assert state.frames[1].suggested
    assert suggest_frames(store, "uniform", 5) == [(first, "uniform")]  # the suggested frame is skipped
    win.project.undo_action.trigger()
    assert not store.frame(second).suggested and review.table.rowCount() == 0


def test_freeze_a_video_frame_with_its_predictions(qtbot, project_window, small_video) -> None:
    win, state = project_window, project_window.state
    assert win.open_video(small_video)
    win.go_to_frame(5)
    win.live.set_enabled(True)
    qtbot.waitUntil(lambda: state.prediction is not None and state.prediction.index == 5, timeout=20_000)
    wait_idle(qtbot, state)
    frame_id = win.project.freeze_and_add()
    assert frame_id is not None and state.frame_id == frame_id
    frame = state.project.frame(frame_id)
    assert (frame.index, state.project.media(frame.media_id).kind) == (5, "video")
    [person] = state.instances
    assert person.source == "student" and not person.extras["verified"]
    expected = state.prediction.instances[0].keypoints.copy()
    expected[:3, 2] = 0  # scores 0.05, 0.11, 0.16 are below the display threshold 0.2: not labelled
    np.testing.assert_allclose(person.keypoints, expected)
    assert state.frames[-1].name == "clip.mp4 #5"
    win.project.undo_action.trigger()  # frame and video go again
    assert [r.name for r in state.frames] == ["figure.png"]


def test_freeze_a_camera_frame_saves_it_next_to_the_project(qtbot, project_window) -> None:

    win, state = project_window, project_window.state
    pixels = np.full((48, 64, 3), (10, 200, 30), np.uint8)

    class Capture:
        def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
            return True

        def read(self):
            return True, pixels[..., ::-1].copy()

        def release(self) -> None:
            pass

        def set(self, *_args) -> bool:
            return True

    assert win.open_camera(0, capture_factory=lambda _device: Capture())
    qtbot.waitUntil(lambda: state.image is not None and state.media_kind == "camera", timeout=10_000)
    frame_id = win.project.freeze_and_add()
    assert frame_id is not None and state.media_kind == "image" and state.frame_id == frame_id
    saved = state.project.media_path(state.project.frame(frame_id).media_id)
    assert saved.parent == state.project_path.parent / "poses-captures" and saved.suffix == ".png"
    np.testing.assert_array_equal(cv2.imread(str(saved))[..., ::-1], pixels)
    assert state.frames[-1].name == saved.name


def test_the_worker_writes_one_transaction_per_frame(qtbot, project_window, tmp_path) -> None:
    win, state = project_window, project_window.state
    _second_image(win, tmp_path)
    _prelabel(qtbot, win, all_frames=True)
    with ProjectStore.open(state.project_path) as other:  # what the worker committed, read elsewhere
        assert other.counts()["instances"] == 2
        ops = [e.op for e in other.history()]
    assert ops[-2:] == ["prelabel", "prelabel"]  # nested adds join the frame's transaction, one entry each


def test_uniform_suggestions_spread_over_the_list(project_window, tmp_path) -> None:
    win, state = project_window, project_window.state
    add_grey_images(win, tmp_path, 6)
    ids = [row.frame_id for row in state.frames]  # figure.png + 6 images
    # round(linspace(0, 6, 3)) = 0, 3, 6
    assert suggest_frames(state.project, "uniform", 3) == [
        (ids[0], "uniform"),
        (ids[3], "uniform"),
        (ids[6], "uniform"),
    ]
