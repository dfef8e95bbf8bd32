"""The live model follows the source until the user picks one: stills the most accurate model with flip
test, video the default student once it meets its bar (``distilpose.models.default_choice``)."""

from __future__ import annotations

from distilpose.app.live.controller import LiveController
from distilpose.app.state import AppState
from distilpose.models import bundled

# Written here, not imported from the module under test: a changed default must change this test too.
DEFAULT_STUDENT, MOST_ACCURATE = "distilpose-mnv2-lt", "movenet-thunder"


def test_each_source_gets_its_default_until_a_model_is_chosen(
    qtbot, figure_files, small_video, monkeypatch
) -> None:
    from distilpose import zoo

    monkeypatch.setattr(bundled, "meets_default_bar", lambda name=DEFAULT_STUDENT: True)
    monkeypatch.setattr(zoo, "is_cached", lambda name: True)  # fetched: the measured rule, not the offline one
    state = AppState()
    live = LiveController(state)
    state.open_path(figure_files.image)
    assert (live.settings.model, live.settings.flip) == (MOST_ACCURATE, True)
    state.open_path(small_video)
    assert (live.settings.model, live.settings.flip) == (DEFAULT_STUDENT, False)
    live.update_settings(runtime="onnx", model=DEFAULT_STUDENT)  # the panel resends the model: not a choice
    state.open_path(figure_files.image)
    assert live.settings.model == MOST_ACCURATE
    live.update_settings(model="distilpose-t")  # the user's choice sticks across sources
    state.open_path(small_video)
    assert live.settings.model == "distilpose-t"
    live.update_settings(model="default")  # back to choosing by source, resolved at once
    assert (live.settings.model, live.settings.flip) == (DEFAULT_STUDENT, False)
    state.open_path(figure_files.image)
    assert (live.settings.model, live.settings.flip) == (MOST_ACCURATE, True)
    live.shutdown()


def test_a_chosen_model_does_not_inherit_the_stills_flip_test(qtbot, figure_files) -> None:
    state = AppState()
    live = LiveController(state)
    state.open_path(figure_files.image)
    assert live.settings.flip
    live.update_settings(model="distilpose-t", detector="full-frame")
    assert (live.settings.model, live.settings.flip) == ("distilpose-t", False)
    live.update_settings(flip=True)  # the user's own flip test stays with the next model
    live.update_settings(model="distilpose-s")
    assert live.settings.flip
    live.shutdown()


def test_the_panel_says_when_the_shipped_student_stands_in_for_an_unfetched_zoo(
    qtbot, figure_files, small_video, monkeypatch
) -> None:
    from distilpose import zoo

    cached: set[str] = set()
    monkeypatch.setattr(zoo, "is_cached", lambda name: name in cached)
    state = AppState()
    live = LiveController(state)
    state.open_path(small_video)
    assert live.settings.model == DEFAULT_STUDENT and "not fetched" in live.model_reason()
    state.open_path(figure_files.image)
    assert live.settings.model == DEFAULT_STUDENT and "not fetched" in live.model_reason()
    cached.update(("movenet-lightning", "movenet-thunder"))  # the zoo arrives
    state.open_path(small_video)
    assert live.settings.model == "movenet-lightning-256x192" and live.model_reason().endswith("(keeps up live)")
    state.open_path(figure_files.image)
    assert live.settings.model == MOST_ACCURATE and live.model_reason().endswith("(most accurate)")
    live.shutdown()
