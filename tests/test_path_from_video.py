"""A camera path taken from a reference clip (``trajectory from-video``, ``render --trajectory video:REF``).

The reference clips are studio heads filmed by cameras whose every pose is known
(``data.studio.film_path``), detected by MediaPipe: the recovered path is scored against the
truth with the kit's CamI2V definitions. The tolerances sit above what the kit measures
(docs/cameras.md: RotErr 0.5-1 degree on dollies, trucks and pedestals, 3-4 on 30-degree orbits,
where MediaPipe and the generic head read the turn about 15% short) and far below what a broken
PnP or re-anchoring gives.
"""

import json

import cv2
import numpy as np
import pytest

from facecam_kit.cli import main
from facecam_kit.data import path_from_video
from facecam_kit.data.path_from_video import (
    clone_camera_path,
    fill_gaps,
    reanchor,
    smooth_cameras,
)
from facecam_kit.data.studio import film_path, studio_head
from facecam_kit.evaluation.camera_accuracy import path_errors
from facecam_kit.geometry.camera import CameraPath, orbit_cameras, rotation_about_axis
from facecam_kit.geometry.trajectory import OrbitTrajectory, camera_angles, load_trajectory
from facecam_kit.mini.experiment import trajectory_cameras
from facecam_kit.video import write_video
from facecam_kit.widgets import editor_trajectory

F, S, LENS = 17, 192, 45.0
START = OrbitTrajectory(num_frames=1).cameras()


def _with_lens(cams: CameraPath) -> CameraPath:
    return CameraPath(cams.R, cams.t, np.full(len(cams), LENS))


@pytest.fixture(scope="module")
def clips(tmp_path_factory, portrait, portrait_landmarks):
    """Reference clips of one studio head: {name: (path, true cameras)}, and the frames of each."""
    folder = tmp_path_factory.mktemp("reference")
    head = studio_head(np.random.default_rng(901), portrait, portrait_landmarks, 901)
    out = {}
    for name in ("dolly_in", "truck_right", "orbit_left"):
        truth = _with_lens(trajectory_cameras(name, 0.0, F))
        frames = film_path(head, truth, S)
        write_video(folder / f"{name}.mp4", frames)
        out[name] = (folder / f"{name}.mp4", truth, frames)
    return out


@pytest.mark.parametrize(
    "name, rot_max, trans_max",
    [("dolly_in", 2.0, 0.03), ("truck_right", 2.0, 0.03), ("orbit_left", 6.0, 0.12)],
)
def test_the_cloned_path_is_the_true_one(clips, template, name, rot_max, trans_max):
    path, truth, _ = clips[name]
    world = clone_camera_path(path, F, hfov=LENS, anchor="world", progress=False)
    e = path_errors(world.cameras, truth, template, 704, 480)
    assert np.nanmean(e["rot_err_deg"]) < rot_max
    assert np.nanmean(e["trans_err"]) < trans_max
    # the head's own distance, read at the generic head's size (studio heads are 0.85-1.15 of it)
    assert np.linalg.norm(world.cameras.centers[0]) == pytest.approx(np.linalg.norm(truth.centers[0]), rel=0.2)
    first = clone_camera_path(path, F, hfov=LENS, progress=False)
    np.testing.assert_allclose(first.cameras.R[0], START.R[0], atol=1e-9)  # starts at the kit's camera
    assert path_errors(first.cameras, reanchor(truth, START), template, 704, 480)["landmark_px"].mean() < 4.0


def test_an_orbit_is_read_as_an_orbit_of_the_right_side_and_size(clips):
    path, truth, _ = clips["orbit_left"]
    cloned = clone_camera_path(path, F, hfov=LENS, progress=False).cameras
    got, want = camera_angles(cloned)["azimuth"], camera_angles(truth)["azimuth"]
    assert want[-1] == pytest.approx(-30.0)
    assert -33.0 < got[-1] < -22.0  # the turn read at least 73% of its size, never the other way
    assert np.all(np.diff(got) < 0.5)  # one way, no jitter back
    # the distance to the head stays (an orbit), whatever the reference's own distance was
    np.testing.assert_allclose(np.linalg.norm(cloned.centers, axis=1), 2.7, rtol=0.08)


def test_reanchoring_maps_an_orbit_about_the_reference_head_onto_one_about_yours():
    # the reference orbits its head at distance 1.8 from azimuth 20 with a 60-degree lens
    reference = orbit_cameras(np.linspace(20, -10, 9), np.linspace(5, 10, 9), 60.0, radius=1.8)
    got = reanchor(reference, START)
    # the same turn about your head from the kit's frontal camera at 2.7
    want = orbit_cameras(np.linspace(0, -30, 9), np.zeros(9), 40.0)
    np.testing.assert_allclose(np.linalg.norm(got.centers, axis=1), 2.7, atol=1e-9)
    np.testing.assert_allclose(got.hfov_deg, 40.0)
    rel = np.einsum("fij,fkj->fik", got.R, got.R[:1])  # each camera relative to the first
    rel_ref = np.einsum("fij,fkj->fik", reference.R, reference.R[:1])
    np.testing.assert_allclose(rel, rel_ref, atol=1e-9)
    # the azimuth sweep is the reference's (30 degrees); the elevation change moves into the start's frame
    assert camera_angles(got)["azimuth"][-1] == pytest.approx(camera_angles(want)["azimuth"][-1], abs=1.5)


def test_smoothing_keeps_a_steady_move_and_adds_no_lag():
    # a pan about one axis at constant speed while the camera trucks at constant speed
    R = rotation_about_axis([0, 1, 0], np.linspace(0, 20, 41))
    c = np.linspace([0, -2.7, 0], [0.5, -2.7, 0.1], 41)
    R2, c2 = smooth_cameras(R, c, 3.0)
    np.testing.assert_allclose(R2, R, atol=1e-9)  # kept to the last frame (the ends are point-reflected)
    np.testing.assert_allclose(c2, c, atol=1e-9)
    # a step stays centred where it was: no lag
    step = np.where(np.arange(41) < 20, 0.0, 10.0)
    cams = orbit_cameras(step, 0.0, 40.0)
    R, c = smooth_cameras(cams.R, cams.centers, 3.0)
    az = camera_angles(CameraPath.from_centres(R, c, 40.0))["azimuth"]
    assert az[19] == pytest.approx(10 - az[20], abs=0.05)  # symmetric about the step
    assert 0.5 < az[18] < az[19] < az[20] < az[21] < 9.5  # spread over a few frames


def test_frames_without_a_face_are_filled_between_their_neighbours():
    cams = orbit_cameras(np.linspace(0, -30, 11), 0.0, 40.0)
    R, c = cams.R.copy(), cams.centers.copy()
    R[[0, 4, 5]], c[[0, 4, 5]] = np.nan, np.nan
    R2, c2 = fill_gaps(R, c)
    np.testing.assert_allclose(R2[[4, 5]], cams.R[[4, 5]], atol=1e-9)  # slerp of an orbit is the orbit
    np.testing.assert_allclose(np.linalg.norm(c2[[4, 5]], axis=1), 2.7, rtol=0.01)
    np.testing.assert_allclose(R2[0], cams.R[1], atol=1e-12)  # held at the ends


def test_from_video_writes_what_render_accepts(clips, tmp_path, capsys):
    path, _, _ = clips["orbit_left"]
    out = tmp_path / "cloned.json"
    assert main(["trajectory", "from-video", str(path), str(out), "--hfov", "45", "--frames", "33"]) == 0
    said = capsys.readouterr().out
    assert "cloned the camera of" in said and "17 frames used" in said
    traj = load_trajectory(str(out))
    assert traj.kind == "keyframes" and traj.num_frames == 33
    assert main(["trajectory", "show", str(out)]) == 0
    assert "render --trajectory accepts this path" in capsys.readouterr().out
    # the same clip straight from render's --trajectory, through its checks, on a real source video
    render_out = tmp_path / "render"
    args = ["render", "--video", str(path), "--trajectory", f"video:{path}", "--out", str(render_out)]
    assert main([*args, "--frames", "9", "--height", "128", "--width", "96", "--name", "clone"]) == 0
    run = json.loads((render_out / "clone_run.json").read_text())
    assert run["trajectory"]["kind"] == "keyframes" and len(run["trajectory"]["keyframes"]) == 9


def test_the_keyframe_editor_loads_a_clip_as_a_few_keyframes_close_to_its_path(clips):
    path, _, _ = clips["orbit_left"]
    keys = editor_trajectory(f"video:{path}", 33)
    cloned = clone_camera_path(path, 33, progress=False).cameras
    assert len(keys.keyframes) == 5 and keys.num_frames == 33
    assert np.abs(keys.cameras().centers - cloned.centers).max() < 0.05  # proxy units, of 2.7


def test_several_faces_follow_the_largest_with_a_warning(clips, tmp_path, capsys):
    path, truth, frames = clips["truck_right"]
    small = np.stack(
        [
            np.pad(cv2.resize(f, (3 * S // 4, 3 * S // 4)), ((0, S // 4), (0, 0), (0, 0)), constant_values=255)
            for f in clips["dolly_in"][2]
        ]
    )
    both = tmp_path / "two_faces.mp4"
    write_video(both, np.concatenate([frames, small], 2))
    lens = 2 * np.rad2deg(np.arctan(1.75 * np.tan(np.deg2rad(LENS / 2))))  # the same focal length, 1.75x as wide
    cloned = clone_camera_path(both, F, hfov=lens, anchor="first", progress=False)
    assert len(cloned.reference.several_faces) >= F // 2
    assert any("several faces" in w for w in cloned.summary())
    alone = clone_camera_path(path, F, hfov=LENS, anchor="first", progress=False)
    # the large head trucks right: so does the clone, not the small head's dolly
    assert np.sign(cloned.cameras.centers[-1, 0] - cloned.cameras.centers[0, 0]) == np.sign(
        alone.cameras.centers[-1, 0] - alone.cameras.centers[0, 0]
    )


def _refused(capsys, args, out, *words):
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert not out.exists()


@pytest.mark.parametrize(
    "option, value, word",
    [
        ("--hfov", "nan", "--hfov"),
        ("--hfov", "0", "--hfov"),
        ("--hfov", "500", "--hfov"),
        ("--hfov", "inf", "--hfov"),
        ("--smooth", "-1", "--smooth"),
        ("--frames", "10", "--frames"),
        ("--frames", "1000000001", "--frames"),
    ],
)
def test_bad_options_are_refused_before_the_clip_is_read(capsys, tmp_path, option, value, word):
    out = tmp_path / "out.json"
    _refused(capsys, ["trajectory", "from-video", str(tmp_path / "missing.mp4"), str(out), option, value], out, word)


def test_clips_without_a_usable_face_are_refused(clips, tmp_path, capsys, portrait, monkeypatch):
    _, _, frames = clips["dolly_in"]
    out = tmp_path / "out.json"
    cases = {
        "no_face.mp4": (np.full((9, 96, 96, 3), 255, np.uint8), "no face in any frame"),
        "one_frame.mp4": (frames[:1], "1 frame"),
        "small_face.mp4": (
            np.stack([cv2.resize(f, (80, 80), interpolation=cv2.INTER_AREA) for f in frames]),
            "px tall",
        ),
        "face_leaves.mp4": (np.concatenate([frames[:12], np.full((5, S, S, 3), 255, np.uint8)]), "at most 10%"),
    }
    for name, (video, words) in cases.items():
        write_video(tmp_path / name, video)
        _refused(capsys, ["trajectory", "from-video", str(tmp_path / name), str(out)], out, name, words)
    # a clip longer than the kit reads (its header says so): refused before a frame is decoded
    monkeypatch.setattr(path_from_video, "MAX_REFERENCE_FRAMES", F - 1)
    _refused(capsys, ["trajectory", "from-video", str(clips["dolly_in"][0]), str(out)], out, "trim it")
    monkeypatch.undo()
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), portrait[:, :, ::-1])
    _refused(capsys, ["trajectory", "from-video", str(still), str(out)], out, "still image")
    # OUT exists: refused before any work, the file left as it was
    out.write_text("mine")
    capsys.readouterr()
    assert main(["trajectory", "from-video", str(clips["dolly_in"][0]), str(out)]) == 2
    assert out.read_text() == "mine"
