"""The slider panel of notebooks 03 and 06: the sliders, their layout and the callbacks they trigger."""

import cv2
import ipywidgets as widgets
import numpy as np
import pytest

from facecam_kit.face.condition import condition_video
from facecam_kit.face.template import load_template
from facecam_kit.geometry.camera import orbit_angles
from facecam_kit.geometry.formats import write_cameras
from facecam_kit.geometry.trajectory import (
    KeyframeTrajectory,
    check_trajectory,
    load_trajectory,
    save_trajectory,
)
from facecam_kit.jobs import generate_video
from facecam_kit.model.pipeline import tiny_facecam_pipeline
from facecam_kit.spec import LIMITS
from facecam_kit.widgets import (
    PRESET_CHOICES,
    SLIDERS,
    KeyframeEditor,
    add_keyframe,
    busy,
    condition_strip,
    delete_keyframe,
    edit_keyframe,
    editor_trajectory,
    keyframe_sliders,
    keyframe_values,
    labelled_rows,
    orbit_from_slider_values,
    path_figure,
    slider_panel,
    slider_values,
    step_progress,
    trajectory_sliders,
    trajectory_strip,
)

VALUES = dict(azimuth_start=-35, azimuth_end=25, elevation_start=-12, elevation_end=8, fov_start=30, fov_end=50)


def test_sliders_cover_the_limits_in_whole_degrees_with_full_labels():
    sliders = trajectory_sliders(**VALUES)
    assert slider_values(sliders) == VALUES
    for name, s in sliders.items():
        limit = LIMITS[SLIDERS[name][1]]
        assert isinstance(s, widgets.IntSlider) and s.step == 1 and s.readout_format == "d"
        assert (s.min, s.max) == limit
        assert s.description == SLIDERS[name][0]
        # a fixed label width of at least one em per character: "elevation start" is not cut
        assert float(s.style.description_width.removesuffix("em")) >= 0.5 * len(s.description)


def test_sliders_refuse_unknown_names_and_values_outside_the_limits():
    with pytest.raises(ValueError, match="unknown slider"):
        trajectory_sliders(azimuth=10)
    with pytest.raises(ValueError, match="elevation_end = 75"):
        trajectory_sliders(elevation_end=75)


def test_panel_puts_starts_left_and_ends_right():
    sliders = trajectory_sliders()
    extra = widgets.Label("below")
    panel = slider_panel(sliders, extra)
    left, right = panel.children[0].children
    assert [s.description for s in left.children] == ["azimuth start", "elevation start", "fov start"]
    assert [s.description for s in right.children] == ["azimuth end", "elevation end", "fov end"]
    assert panel.children[1] is extra


def test_orbit_from_slider_values_maps_each_slider_to_its_end_of_the_orbit():
    traj = orbit_from_slider_values(VALUES, 9)
    assert traj.azimuth == (-35, 25) and traj.elevation == (-12, 8) and traj.hfov == (30, 50)
    assert traj.num_frames == 9
    with pytest.raises(ValueError, match="hfov"):
        orbit_from_slider_values({**VALUES, "fov_end": 120}, 9)


def test_condition_strip_is_the_orbits_condition_cropped_to_the_head_square():
    strip = condition_strip(VALUES, num_frames=9, height=704, width=480, num=3, size=120)
    assert strip.shape == (120, 360, 3) and strip.dtype == np.uint8
    frames = condition_video(orbit_from_slider_values(VALUES, 9), height=704, width=480)
    expected = [cv2.resize(frames[i, :480], (120, 120), interpolation=cv2.INTER_AREA) for i in (0, 4, 8)]
    np.testing.assert_array_equal(strip, np.concatenate(expected, 1))
    moved = condition_strip({**VALUES, "azimuth_end": 45}, num_frames=9, height=704, width=480, num=3, size=120)
    assert np.array_equal(moved[:, :120], strip[:, :120])  # same start
    assert np.abs(moved[:, 240:].astype(int) - strip[:, 240:]).mean() > 1  # a different end


def test_step_progress_follows_the_pipelines_denoising_steps():
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    bar = widgets.IntProgress(value=3, max=3, description="step 3/3")  # as the previous generation left it
    seen = []
    callback = step_progress(bar)
    assert bar.value == 0 and bar.description == "step 0/3"
    r = generate_video(
        tiny_facecam_pipeline(0),
        video,
        orbit_from_slider_values(VALUES, 5),
        steps=3,
        callback_on_step_end=lambda *a: (seen.append(bar.value), callback(*a))[1],
    )
    assert seen == [0, 1, 2] and bar.value == 3 and bar.description == "step 3/3"
    assert r["generated"].shape == video.shape


def test_busy_disables_the_button_and_re_enables_it_after_an_error():
    button, status = widgets.Button(), widgets.Label()
    with pytest.raises(RuntimeError), busy(button, status, "generating"):
        assert button.disabled and status.value == "generating"
        raise RuntimeError("the model failed")
    assert not button.disabled and status.value == "failed: the model failed"


def test_labelled_rows_start_hidden_with_their_names():
    box, images = labelled_rows(("input", "condition", "generated"))
    assert box.layout.display == "none" and list(images) == ["input", "condition", "generated"]
    assert [row.children[0].value for row in box.children] == list(images)
    assert all(row.children[1] is images[name] for row, name in zip(box.children, images))


EDIT = KeyframeTrajectory(
    ({"frame": 0, "azimuth": -30}, {"frame": 40, "azimuth": 10}, {"frame": 80, "azimuth": 30}), 81
)


def test_keyframe_sliders_show_a_keyframe_and_update_while_dragged():
    sliders = keyframe_sliders(41)
    assert all(s.continuous_update for s in sliders.values()) and sliders["frame"].max == 40
    key = EDIT.keyframes[1]
    for name, value in keyframe_values(key).items():
        sliders[name].value = value
    assert {n: s.value for n, s in sliders.items()} == keyframe_values(key)


def test_edit_add_and_delete_keyframes():
    values = {**keyframe_values(EDIT.keyframes[1]), "azimuth": 20, "frame": 70}
    moved, index = edit_keyframe(EDIT, 1, values)  # moved past frame 40, still in order
    assert [k.frame for k in moved.keyframes] == [0, 70, 80] and index == 1
    assert orbit_angles(moved.cameras().centers)[0][70] == pytest.approx(20)
    with pytest.raises(ValueError, match="another keyframe is at frame 80"):
        edit_keyframe(EDIT, 1, {**values, "frame": 80})
    with pytest.raises(ValueError, match="azimuth"):
        edit_keyframe(EDIT, 1, {**values, "azimuth": 100})
    linear = KeyframeTrajectory(EDIT.keyframes, 81, "linear")
    added, index = add_keyframe(linear, 20)
    assert index == 1 and len(added.keyframes) == 4
    np.testing.assert_allclose(added.cameras().R, linear.cameras().R, atol=1e-12)  # the path is unchanged
    smooth, _ = add_keyframe(EDIT, 20)
    assert np.abs(smooth.cameras().centers - EDIT.cameras().centers).max() < 0.05
    with pytest.raises(ValueError, match="already at frame 40"):
        add_keyframe(EDIT, 40)
    fewer, index = delete_keyframe(EDIT, 2)
    assert [k.frame for k in fewer.keyframes] == [0, 40] and index == 1
    with pytest.raises(ValueError, match="at least one keyframe"):
        delete_keyframe(KeyframeTrajectory(), 0)


@pytest.mark.parametrize("name", PRESET_CHOICES)
def test_every_preset_becomes_editable_keyframes_close_to_it(name):
    keys = editor_trajectory(name)
    original = load_trajectory(name).cameras()
    gap = np.abs(keys.cameras().centers - original.centers).max()
    assert gap < (1e-12 if name.startswith("random") else 0.01), gap  # proxy units, of 2.7
    assert np.abs(keys.cameras().R - original.R).max() < (1e-12 if name.startswith("random") else 0.01)


def test_a_file_with_a_keyframe_on_every_frame_becomes_a_few_to_edit(tmp_path):
    # what trajectory convert and from-video write: 81 keyframes, too many to drag one by one
    dense = write_cameras(load_trajectory("arc_left").cameras(), tmp_path / "dense.json", "kit")
    assert len(load_trajectory(str(dense)).keyframes) == 81
    keys = editor_trajectory(dense)
    assert [k.frame for k in keys.keyframes] == [0, 20, 40, 60, 80]
    assert np.abs(keys.cameras().centers - load_trajectory("arc_left").cameras().centers).max() < 0.01


def test_editor_saves_what_render_accepts_and_loads_it_back(tmp_path):
    edited, _ = add_keyframe(EDIT, 60)
    path = save_trajectory(edited, tmp_path / "mine.json")
    check_trajectory(load_trajectory(str(path)), load_template())  # as render --trajectory reads it
    assert editor_trajectory(path) == edited


def test_trajectory_strip_and_path_figure_follow_the_keyframes():
    strip = trajectory_strip(EDIT, num=3, size=120)
    frames = condition_video(EDIT)
    expected = [cv2.resize(frames[i, :480], (120, 120), interpolation=cv2.INTER_AREA) for i in (0, 40, 80)]
    np.testing.assert_array_equal(strip, np.concatenate(expected, 1))
    fig = path_figure(EDIT, load_template(), selected=1)
    marks = fig.data[-1]
    assert marks.name == "keyframes" and list(marks.marker.size) == [5, 9, 5]
    np.testing.assert_allclose(np.c_[marks.x, marks.y, marks.z], EDIT.cameras().centers[[0, 40, 80]])


def test_keyframe_editor_wires_the_widgets_to_the_callbacks(tmp_path):
    editor = KeyframeEditor(load_template(), "arc_left", 21, tmp_path / "mine.json")
    assert [k.frame for k in editor.traj.keyframes] == [0, 5, 10, 15, 20] and editor.menu.value == 0
    before = editor.preview.value
    editor.sliders["azimuth"].value = -20  # a drag: the path and the preview follow
    assert editor.traj.keyframes[0].azimuth == -20 and editor.preview.value != before
    editor.sliders["frame"].value = 7  # moved past the next keyframe: the selection follows it
    assert [k.frame for k in editor.traj.keyframes] == [5, 7, 10, 15, 20] and editor.index == 1
    editor.sliders["frame"].value = 10  # onto another keyframe: refused, said, nothing changed
    assert "another keyframe is at frame 10" in editor.status.value and editor.traj.keyframes[1].frame == 7
    editor.menu.value = 2
    assert editor.sliders["frame"].value == 10
    editor.panel.children[0].children[1].click()  # add keyframe at the slider's frame: 10 is taken
    assert "already at frame 10" in editor.status.value
    editor.panel.children[0].children[2].click()  # delete the selected keyframe
    assert [k.frame for k in editor.traj.keyframes] == [5, 7, 15, 20]
    saved = editor.save()
    assert load_trajectory(str(saved)) == editor.traj and "render --trajectory" in editor.status.value
    editor.presets.value = "random:0"
    assert editor.traj == editor_trajectory("random:0", 21)
    write_cameras(load_trajectory("zoom_in").cameras(), tmp_path / "path.txt", "realestate10k")
    editor.units.value = 0.3  # a metric file from another tool: placed with the scale it is given
    editor.load(tmp_path / "path.txt")
    dist = np.linalg.norm(editor.traj.cameras().centers, axis=1)
    assert dist[0] == pytest.approx(2.7) and dist[-1] == pytest.approx(2.7 - 0.3 * 1.988, abs=1e-9)
    editor.load(tmp_path / "missing.json")
    assert editor.status.value.startswith("could not load")
