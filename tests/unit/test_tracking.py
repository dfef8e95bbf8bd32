"""The pose tracker (ids through crossings, occlusions and detector misses) and keyframe interpolation."""

from __future__ import annotations

import numpy as np
import pytest

from distilpose.interpolation import INTERPOLATED, interpolate_pose, is_interpolated, is_keyframe
from distilpose.keypoints import NUM_KEYPOINTS
from distilpose.tracking import PoseTracker, TrackerConfig, greedy_match, id_errors
from distilpose.types import Instance

# A standing person's 17 joints in a 40 x 100 box (nose on top, ankles at the bottom).
_SHAPE = np.array(
    [[20, 5], [17, 3], [23, 3], [14, 5], [26, 5], [10, 20], [30, 20], [6, 35], [34, 35], [4, 50], [36, 50],
     [13, 55], [27, 55], [13, 75], [27, 75], [13, 98], [27, 98]],
    dtype=np.float64,
)  # fmt: skip


def walker(x: float, y: float = 50.0, score: float = 0.9, scale: float = 1.0) -> Instance:
    kp = np.zeros((NUM_KEYPOINTS, 3))
    kp[:, :2] = _SHAPE * scale + (x, y)
    kp[:, 2] = 2
    return Instance(keypoints=kp, scores=np.full(NUM_KEYPOINTS, score), score=score, source="student")


def test_two_walkers_crossing_keep_their_ids_through_an_occlusion():
    """A walks right, B walks left; at the crossing B is hidden (missing, then low-score) for 4 frames."""
    tracker = PoseTracker()
    history: dict[str, list[int | None]] = {"A": [], "B": []}
    for f in range(40):
        a = walker(50 + 8 * f)
        b = walker(370 - 8 * f, y=60.0)
        people, names = [a], ["A"]
        if 18 <= f < 20:
            pass  # B fully hidden behind A: the detector misses it
        elif 20 <= f < 22:
            b.score = 0.2  # B reappears half hidden: low confidence
            people.append(b)
            names.append("B")
        else:
            people.append(b)
            names.append("B")
        ids = tracker.update(f, people)
        for name, tid in zip(names, ids, strict=True):
            history[name].append(tid)
        assert [p.track_id for p in people] == ids
    assert set(history["A"]) == {1}
    assert set(history["B"]) == {2}, history["B"]
    assert tracker.next_id == 3  # nobody got a second id


def test_a_detector_miss_on_sampled_frames_keeps_the_id():
    tracker = PoseTracker()
    ids = []
    for f in range(0, 60, 5):  # every 5th frame, as "add every N-th frame" samples a video
        people = [] if f in (20, 25) else [walker(100 + 2 * f)]
        ids += tracker.update(f, people)
    assert ids and set(ids) == {1}


def test_new_people_get_new_ids_and_low_unmatched_get_none():
    tracker = PoseTracker(first_id=7)
    assert tracker.update(0, [walker(10)]) == [7]
    assert tracker.update(1, [walker(11), walker(300)]) == [7, 8]
    assert tracker.update(2, [walker(12), walker(301), walker(600, score=0.2)]) == [7, 8, None]


def test_a_low_score_person_can_start_a_tentative_track_but_never_under_low_score():
    tracker = PoseTracker(TrackerConfig(low_starts_track=True))
    assert tracker.update(0, [walker(10), walker(300, score=0.2), walker(600, score=0.05)]) == [1, 2, None]
    assert tracker.update(1, [walker(11), walker(301, score=0.5)]) == [1, 2]  # the tentative id carries on


def test_a_track_ends_after_max_missed_frames_and_seeking_back_resets():
    tracker = PoseTracker(TrackerConfig(max_missed=3))
    assert tracker.update(0, [walker(10)]) == [1]
    assert tracker.update(5, [walker(10)]) == [2]  # gone 5 > 3 frames: a new track
    assert tracker.update(1, [walker(10)]) == [1]  # backwards: a new video position, fresh tracks
    assert len(tracker.tracks) == 1


def _mirrored(inst: Instance) -> Instance:
    """The same person seen from behind: left and right joints swap sides, the box stays the same."""
    out = walker(0.0)
    x0, x1 = inst.keypoints[:, 0].min(), inst.keypoints[:, 0].max()
    out.keypoints = inst.keypoints.copy()
    out.keypoints[:, 0] = x0 + x1 - inst.keypoints[:, 0]
    return out


@pytest.mark.parametrize("iou_weight", [0.5, 1.0])
def test_pose_separates_two_people_sharing_one_box(iou_weight):
    """Two people in the same box, one facing the camera, one turned away: only the pose tells them apart
    (box IoU alone ties, and the tie goes to the wrong person)."""
    tracker = PoseTracker(TrackerConfig(iou_weight=iou_weight))
    front = walker(100)
    back = _mirrored(front)
    tracker.update(0, [front, back])
    front2, back2 = walker(101), _mirrored(walker(101))
    tracker.update(1, [back2, front2])
    right = (front2.track_id, back2.track_id) == (front.track_id, back.track_id)
    assert right == (iou_weight < 1.0)


def test_greedy_match_takes_the_best_pairs_first_and_respects_the_gate():
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert greedy_match(sim, 0.2) == [(0, 0)]  # (1, 1) is below the gate
    assert sorted(greedy_match(sim, 0.05)) == [(0, 0), (1, 1)]


# --------------------------------------------------------------------------------------------- interpolation


def test_interpolation_is_linear_per_keypoint_and_visibility_follows_the_nearer_keyframe():
    a, b = walker(0.0), walker(100.0)
    a.source = b.source = "user"
    a.track_id = b.track_id = 4
    a.bbox, b.bbox = (0.0, 50.0, 40.0, 100.0), (100.0, 50.0, 40.0, 100.0)
    a.keypoints[9, 2] = 1  # left wrist occluded in A, visible in B
    b.keypoints[3, 2] = 0  # left ear not labelled in B
    mid = interpolate_pose(a, b, 10, 20, 13)
    np.testing.assert_allclose(mid.keypoints[0, :2], a.keypoints[0, :2] + (30.0, 0.0))
    assert mid.keypoints[9, 2] == 1  # t = 0.3: nearer to A
    assert interpolate_pose(a, b, 10, 20, 17).keypoints[9, 2] == 2  # t = 0.7: nearer to B
    assert mid.keypoints[3, 2] == 0 and tuple(mid.keypoints[3, :2]) == (0.0, 0.0)
    assert mid.bbox == pytest.approx((30.0, 50.0, 40.0, 100.0))
    assert mid.track_id == 4 and mid.source == "user" and mid.extras == {INTERPOLATED: True}
    assert is_interpolated(mid) and not is_keyframe(mid)
    with pytest.raises(ValueError, match="strictly between"):
        interpolate_pose(a, b, 10, 20, 20)


def test_keyframe_and_interpolated_flags():
    pred = walker(0.0)
    assert not is_keyframe(pred)
    pred.extras["verified"] = True
    assert is_keyframe(pred)
    done = Instance(keypoints=walker(0).keypoints, extras={INTERPOLATED: True, "verified": True})
    assert is_keyframe(done) and not is_interpolated(done)  # verified: no longer a guess


def test_id_errors_count_switches_and_fragmentations():
    truth = [[1, 2], [1, 2], [1, 2], [1, 2], [1, None]]
    predicted = [[5, 6], [5, None], [6, 5], [6, 6], [6, 9]]
    errors = id_errors(truth, predicted)
    # person 1: 5 -> 6 (a switch); person 2: 6 -> (lost) -> 5 (a switch and a fragmentation) -> 6 (a switch)
    assert (errors.frames, errors.switches, errors.fragmentations) == (5, 3, 1)
    assert (errors.people, errors.unassigned) == (9, 1)
    assert errors.per_100(errors.switches) == 60.0
