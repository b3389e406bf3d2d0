import numpy as np
import pytest

from facecam_kit.face.template import load_template
from facecam_kit.geometry.camera import orbit_angles, rotation_angle_deg
from facecam_kit.geometry.trajectory import (
    DEFAULT_UNITS_PER_METRE,
    RECAMMASTER_PRESETS,
    KeyframeTrajectory,
    OrbitTrajectory,
    PresetTrajectory,
    check_trajectory,
    keyframes_from_cameras,
    load_trajectory,
    recammaster_relative_motion,
    save_trajectory,
)


def test_official_sampler_ranges():
    rng = np.random.default_rng(0)
    trajs = [OrbitTrajectory.sample_official(rng) for _ in range(2000)]
    sweep = np.array([abs(t.azimuth[1] - t.azimuth[0]) for t in trajs])
    assert 60 <= sweep.min() and sweep.max() <= 90 and abs(sweep.mean() - 75) < 1
    assert {np.sign(t.azimuth[1]) for t in trajs} == {-1.0, 1.0}
    assert all(-30 <= e <= 30 for t in trajs for e in t.elevation)
    assert all(25 <= f <= 55 for t in trajs for f in t.hfov)
    a = OrbitTrajectory.sample_official(np.random.default_rng(5))
    assert a == OrbitTrajectory.sample_official(np.random.default_rng(5))


def test_orbit_interpolates_linearly():
    cams = OrbitTrajectory((-30, 30), (10, -10), (25, 55)).cameras()
    assert len(cams) == 81
    np.testing.assert_allclose(cams.hfov_deg[[0, 40, 80]], [25, 40, 55])
    np.testing.assert_allclose(cams.centers[40], [0, -2.7, 0], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(azimuth=(0, 120)), "azimuth"),
        (dict(elevation=(-70, 0)), "elevation"),
        (dict(hfov=(5, 40)), "hfov"),
        (dict(num_frames=80), "4k\\+1"),
        (dict(azimuth=(0, float("nan"))), "azimuth"),
    ],
)
def test_out_of_range_orbits_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OrbitTrajectory(**kwargs)


EXPECTED = {  # docs/official_behaviour.md, section 5: (rotation degrees, |translation| metres)
    "pan_right": (19.88, 0),
    "pan_left": (19.88, 0),
    "tilt_up": (9.94, 0),
    "tilt_down": (9.94, 0),
    "zoom_in": (0, 1.988),
    "zoom_out": (0, 1.988),
    "translate_up": (13.95, 0.994),
    "translate_down": (13.95, 0.994),
    "arc_left": (29.82, 2.058),
    "arc_right": (29.82, 2.058),
}


@pytest.mark.parametrize("name", list(RECAMMASTER_PRESETS))
def test_recammaster_presets_match_reference(name):
    R, p = recammaster_relative_motion(name)
    rot, trans = EXPECTED[name]
    assert rotation_angle_deg(R[-1]) == pytest.approx(rot, abs=1e-9)
    assert np.linalg.norm(p[-1]) == pytest.approx(trans, abs=1e-3)
    for frame, frac in [(20, 0.25), (40, 0.5), (60, 0.75)]:  # constant speed
        assert rotation_angle_deg(R[frame]) == pytest.approx(frac * rot, abs=1e-9)
        np.testing.assert_allclose(p[frame], frac * p[-1], atol=1e-12)
    cams = PresetTrajectory(name).cameras()
    start = OrbitTrajectory(num_frames=1).cameras()
    np.testing.assert_allclose(cams.R[0], start.R[0], atol=1e-12)
    moved = np.linalg.norm(cams.centers[-1] - cams.centers[0])
    assert moved == pytest.approx(trans * DEFAULT_UNITS_PER_METRE, abs=1e-3)


def test_preset_directions_in_the_image():
    head = np.zeros((1, 3))
    u = lambda name: PresetTrajectory(name).cameras().project(head)[[0, -1], 0]
    assert u("pan_right")[1, 0] < u("pan_right")[0, 0]  # camera turns right: head slides left
    assert u("tilt_up")[1, 1] > u("tilt_up")[0, 1]  # camera looks up: head slides down
    # arcs and vertical translations keep the subject near the centre
    for name in ("arc_left", "arc_right", "translate_up", "translate_down"):
        assert np.abs(u(name)[1] - u(name)[0]).max() < 60


def test_preset_that_hits_the_head_is_rejected():
    with pytest.raises(ValueError, match="units_per_metre"):
        PresetTrajectory("zoom_in", units_per_metre=2.0).cameras()
    with pytest.raises(ValueError, match="unknown ReCamMaster trajectory"):
        PresetTrajectory("dolly_zoom")


def test_json_roundtrip(tmp_path):
    for traj in (
        OrbitTrajectory((-40, 35), (5, -5), (30, 50), 41),
        PresetTrajectory("arc_right", 21, 0.5, OrbitTrajectory((10, 10), num_frames=1)),
    ):
        path = save_trajectory(traj, tmp_path / "t.json")
        back = load_trajectory(path)
        assert back == traj
        np.testing.assert_allclose(back.cameras().R, traj.cameras().R)
    assert load_trajectory("tilt_up") == PresetTrajectory("tilt_up")
    (tmp_path / "bad.json").write_text('{"kind": "orbit", "azimuth": [0, 200]}')
    with pytest.raises(ValueError, match="azimuth"):
        load_trajectory(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_trajectory(tmp_path / "broken.json")
    with pytest.raises(ValueError, match="neither a trajectory name"):
        load_trajectory(tmp_path / "missing.json")


def test_load_resamples_to_a_frame_count():
    traj = load_trajectory("arc_left", num_frames=9)
    assert traj == PresetTrajectory("arc_left", 9)
    orbit = OrbitTrajectory((-30, 30), num_frames=81)
    short = load_trajectory(orbit, 5)
    assert short.azimuth == orbit.azimuth and len(short.cameras()) == 5
    assert load_trajectory(orbit) is orbit


KEYS = (
    {"frame": 0, "azimuth": -30},
    {"frame": 40, "azimuth": 20, "elevation": 10, "roll": 15, "aim": [0, 0, 0.2]},
    {"frame": 80, "azimuth": 30, "distance": 3.2, "hfov": 30},
)


@pytest.mark.parametrize("interpolation", ["linear", "smooth"])
def test_keyframes_pass_through_their_cameras(interpolation):
    traj = KeyframeTrajectory(KEYS, interpolation=interpolation)
    cams = traj.cameras()
    az, el = orbit_angles(cams.centers)
    np.testing.assert_allclose(az[[0, 40, 80]], [-30, 20, 30], atol=1e-9)
    np.testing.assert_allclose(el[[0, 40, 80]], [0, 10, 0], atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(cams.centers, axis=1)[[0, 40, 80]], [2.7, 2.7, 3.2], atol=1e-12)
    np.testing.assert_allclose(cams.hfov_deg[[0, 80]], [40, 30])
    assert np.all(np.abs(np.linalg.det(cams.R) - 1) < 1e-12)
    # frame 40 looks at the aim point, rolled: the head top (aim + z) turns left in the picture
    uv = cams.project(np.array([[0, 0, 0.2], [0, 0, 0.7]]))[40]
    np.testing.assert_allclose(uv[0], [240, 240], atol=1e-9)
    up = uv[1] - uv[0]
    assert np.rad2deg(np.arctan2(-up[0], -up[1])) == pytest.approx(15, abs=1e-6)


def test_smooth_keyframes_are_c1_and_never_overshoot():
    keys = [{"frame": 0, "azimuth": 0}, {"frame": 20, "azimuth": 40}, {"frame": 60, "azimuth": 40}, {"frame": 80}]
    smooth = KeyframeTrajectory(keys).values()["azimuth"]
    linear = KeyframeTrajectory(keys, interpolation="linear").values()["azimuth"]
    assert smooth.max() == pytest.approx(40) and smooth.min() == pytest.approx(0)  # no overshoot
    np.testing.assert_allclose(smooth[20:61], 40)  # a hold stays still
    kink = lambda a: np.abs(np.diff(a, 2)).max()  # the largest change of speed between frames
    assert kink(linear) == pytest.approx(2.0) and kink(smooth) < 0.5
    held = KeyframeTrajectory([{"frame": 10, "azimuth": 5}, {"frame": 70, "azimuth": 25}]).values()["azimuth"]
    np.testing.assert_allclose(held[:11], 5)
    np.testing.assert_allclose(held[70:], 25)


def test_keyframes_roundtrip_through_json_resampling_and_cameras(tmp_path):
    traj = KeyframeTrajectory(KEYS)
    back = load_trajectory(save_trajectory(traj, tmp_path / "k.json"))
    assert back == traj and back.kind == "keyframes"
    nine = load_trajectory(tmp_path / "k.json", num_frames=9)
    np.testing.assert_allclose(nine.cameras().R, traj.cameras().R[::10], atol=1e-12)
    again = keyframes_from_cameras(traj.cameras())
    np.testing.assert_allclose(again.cameras().R, traj.cameras().R, atol=1e-12)
    np.testing.assert_allclose(again.cameras().t, traj.cameras().t, atol=1e-12)
    check_trajectory(traj, load_template())


@pytest.mark.parametrize(
    "keys, match",
    [
        ([], "non-empty list"),
        ([{"frame": 0}, {"frame": 0}], "keyframe 1: frame = 0 must be after"),
        ([{"frame": 90}], "keyframe 0: frame = 90 .* at most 80"),
        ([{"frame": 0}, {"frame": 5, "hfov": 5}], "keyframe 1: hfov"),
        ([{"frame": 0, "roll": "a" * 1000}], "keyframe 0: roll must be a number, got 'aaa.*1002 characters"),
        ([{"frame": 0, "aim": [0, 0]}], "keyframe 0: aim must be 3 numbers"),
        ([{"frame": 0, "distance": 0.1}], "keyframe 0: distance"),
        ([{"frame": 0, "zoom": 2}], "keyframe 0: unknown key.*'zoom'"),
        ([{"frame": 0, "elevation": float("nan")}], "keyframe 0: elevation"),
    ],
)
def test_bad_keyframes_name_the_keyframe_and_the_field(keys, match):
    with pytest.raises(ValueError, match=match):
        KeyframeTrajectory(keys)


def test_keyframe_files_errors_and_limits(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"kind": "keyframes", "keyframes": [{"frame": 0}, {"frame": 8, "azimuth": 120}]}')
    with pytest.raises(ValueError, match="bad.json: keyframe 1: azimuth .* 120"):
        load_trajectory(path)
    with pytest.raises(ValueError, match="interpolation"):
        KeyframeTrajectory(interpolation="cubic")
    # keyframes inside the limits whose aim turns the camera off the head are refused by check_trajectory
    away = KeyframeTrajectory([{"frame": 0, "aim": [2.5, 0, 0]}])
    with pytest.raises(ValueError, match="'keyframes' does not show the head"):
        check_trajectory(away, load_template())


def test_random_gives_the_official_sampler():
    assert load_trajectory("random:7") == OrbitTrajectory.sample_official(np.random.default_rng(7))
    drawn = load_trajectory("random")  # one draw per process: a run's parts follow one path
    assert isinstance(drawn, OrbitTrajectory) and load_trajectory("random") == drawn
    with pytest.raises(ValueError, match="random:SEED"):
        load_trajectory("random:x")
