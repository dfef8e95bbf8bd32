"""Keyframe interpolation of one person (track) between two corrected frames.

A person corrected in frames A and B gives every frame between them a pose linear in time, keypoint by
keypoint. Visibility follows the keyframes: a joint labelled in both is interpolated and takes the
visibility of the nearer keyframe (a joint that goes from visible to occluded changes half-way); a joint
labelled in only one keyframe (or neither) is not labelled in between, since there is no second position
to move it toward. The box is interpolated when both keyframes have one.

Interpolated people carry ``extras['interpolated'] = True`` and are unverified: they are guesses until a
person verifies (or corrects and verifies) them. Pure numpy, no store: the project applies it in
:meth:`distilpose.project.tracks.Tracking.interpolate_track`.
"""

from __future__ import annotations

import numpy as np

from distilpose.types import Instance

#: ``extras`` key marking an instance made by interpolation.
INTERPOLATED = "interpolated"


def is_interpolated(inst: Instance) -> bool:
    """Made by interpolation and not yet verified by a person."""
    return bool(inst.extras.get(INTERPOLATED)) and not inst.extras.get("verified", False)


def is_keyframe(inst: Instance) -> bool:
    """An instance interpolation must keep and may interpolate from: verified, or placed by a person (or an
    import) rather than by a model or by interpolation."""
    kind = person_kind(inst.source, bool(inst.extras.get("verified")), bool(inst.extras.get(INTERPOLATED)))
    return kind in ("verified", "keyframe")


def person_kind(source: str, verified: bool, interpolated: bool) -> str:
    """What a person of a track is, for the timeline and the keyframe test: "verified", "keyframe" (placed by
    a person or imported, not verified yet), "interpolated" or "predicted" (a model's)."""
    if verified:
        return "verified"
    if interpolated:
        return "interpolated"
    return "keyframe" if source in ("user", "import") else "predicted"


def interpolate_pose(a: Instance, b: Instance, index_a: int, index_b: int, index: int) -> Instance:
    """The person at frame ``index`` (strictly between ``index_a`` and ``index_b``), from keyframes ``a``
    and ``b``; see the module docs for visibility."""
    if not index_a < index < index_b:
        raise ValueError(f"frame {index} is not strictly between keyframes {index_a} and {index_b}")
    t = (index - index_a) / (index_b - index_a)
    ka, kb = a.keypoints, b.keypoints
    both = (ka[:, 2] > 0) & (kb[:, 2] > 0)
    keypoints = np.zeros_like(ka)
    keypoints[both, :2] = (1.0 - t) * ka[both, :2] + t * kb[both, :2]
    nearer = ka if t <= 0.5 else kb
    keypoints[both, 2] = nearer[both, 2]
    bbox = None
    if a.bbox is not None and b.bbox is not None:
        bbox = tuple(float(v) for v in (1.0 - t) * np.asarray(a.bbox) + t * np.asarray(b.bbox))
    inst = Instance(
        keypoints=keypoints,
        bbox=bbox,  # type: ignore[arg-type]
        source="user",
        track_id=a.track_id,
        extras={INTERPOLATED: True},
    )
    if inst.bbox is None and inst.num_labelled:
        inst.bbox = inst.bbox_from_keypoints()
    return inst
