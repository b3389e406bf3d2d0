"""Camera formats in and out (facecam_kit/geometry/formats.py): round trips, hand-written files, errors."""

import json

import numpy as np
import pytest

from facecam_kit.cli import main
from facecam_kit.face.template import load_template
from facecam_kit.geometry.camera import CameraPath, look_at
from facecam_kit.geometry.formats import FORMATS, guess_format, read_cameras, write_cameras
from facecam_kit.geometry.trajectory import (
    DEFAULT_UNITS_PER_METRE,
    KeyframeTrajectory,
    OrbitTrajectory,
    check_trajectory,
    load_trajectory,
)

PATH = KeyframeTrajectory(
    (
        {"frame": 0, "azimuth": -30, "hfov": 35},
        {"frame": 40, "azimuth": 20, "elevation": 10, "roll": 15, "aim": [0, 0, 0.2], "distance": 2.2},
        {"frame": 80, "azimuth": 30, "elevation": -20, "distance": 3.2, "hfov": 55},
    )
).cameras()
WITH_FOV = {"kit", "realestate10k", "nerfstudio"}
FRONTAL = OrbitTrajectory(num_frames=1).cameras()  # (0, -2.7, 0) looking at the head, hfov 40


def _same(a, b, fov=True, tol=1e-9):
    np.testing.assert_allclose(a.R, b.R, atol=tol, rtol=0)
    np.testing.assert_allclose(a.t, b.t, atol=tol, rtol=0)
    if fov:
        np.testing.assert_allclose(a.hfov_deg, b.hfov_deg, atol=tol, rtol=0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_then_import_gives_the_same_cameras(fmt, tmp_path):
    out = write_cameras(PATH, tmp_path / ("p.txt" if fmt == "realestate10k" else "p.json"), fmt, units_per_metre=0.9)
    fov = fmt in WITH_FOV
    start = PATH if fov else type(PATH)(PATH.R[:1], PATH.t[:1], PATH.hfov_deg[:1])
    _same(read_cameras(out, fmt, units_per_metre=0.9, anchor="world", start=start), PATH, fov)
    _same(read_cameras(out, fmt, units_per_metre=0.9, start=start), PATH, fov)  # relative to the first camera
    if fmt not in ("kit", "c2w-opencv", "c2w-opengl", "w2c-opencv", "w2c-opengl"):
        assert guess_format(out) == fmt
    # a scale read differently moves the cameras: the scale is a choice, never found in the file
    if fmt != "kit":
        moved = read_cameras(out, fmt, units_per_metre=1.8, anchor="world").centers
        np.testing.assert_allclose(moved, 2 * PATH.centers, atol=1e-9)


def _unreal(rows) -> str:  # a matrix string as ReCamMaster's file holds them
    return " ".join("[" + " ".join(str(v) for v in row) + "]" for row in rows) + " "


def _official_relative(text_by_frame):
    """docs/official_behaviour.md 5.2, steps 1-4, without the kit: (F, 3, 4) relative poses."""
    c2ws = []
    for s in text_by_frame:
        m = np.array([[float(v) for v in r.replace("[", "").replace("]", "").split()] for r in s.strip().split("] [")])
        c = m.T[:, [1, 2, 0, 3]]
        c[:3, 1] *= -1
        c[:3, 3] /= 100
        c2ws.append(c)
    return np.array([np.linalg.inv(c2ws[0]) @ c for c in c2ws])[:, :3]


def test_reads_a_recammaster_file_as_the_official_parser(tmp_path):
    # Unreal: X forward, Y right, Z up, centimetres, camera-to-world with the translation in the last row
    frames = [
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],  # the first camera
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 100, 0, 1]],  # 1 m to its right
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 50, 1]],  # 0.5 m up
        [[0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],  # turned 90 degrees to the right
    ]
    data = {f"frame{i}": {"cam01": _unreal(m), "cam02": _unreal(frames[0])} for i, m in enumerate(frames)}
    (tmp_path / "camera_extrinsics.json").write_text(json.dumps(data))
    cams = read_cameras(tmp_path / "camera_extrinsics.json")
    u = DEFAULT_UNITS_PER_METRE
    np.testing.assert_allclose(cams.centers[:3], [[0, -2.7, 0], [u, -2.7, 0], [0, -2.7, 0.5 * u]], atol=1e-12)
    np.testing.assert_allclose(cams.R[:3], np.repeat(FRONTAL.R, 3, 0), atol=1e-12)
    np.testing.assert_allclose(cams.R[3], [[0, -1, 0], [0, 0, -1], [1, 0, 0]], atol=1e-12)  # looks along +X
    # every pose relative to the first is the official parser's
    mine = np.linalg.inv(_c2w(cams)[0]) @ _c2w(cams)
    mine[:, :3, 3] /= u
    official = _official_relative([data[f"frame{i}"]["cam01"] for i in range(4)])
    np.testing.assert_allclose(mine[:, :3], official, atol=1e-12)
    np.testing.assert_allclose(
        read_cameras(tmp_path / "camera_extrinsics.json", camera=2).R, np.repeat(FRONTAL.R, 4, 0)
    )
    with pytest.raises(ValueError, match="frame0 has no camera cam03"):
        read_cameras(tmp_path / "camera_extrinsics.json", camera=3)


def _c2w(cams):
    c2w = np.tile(np.eye(4), (len(cams), 1, 1))
    c2w[:, :3, :3] = np.swapaxes(cams.R, 1, 2)
    c2w[:, :3, 3] = cams.centers
    return c2w


# the frontal camera 2 m from the head: OpenGL camera-to-world (x right, y up, looking along -z)
GL_FRONTAL = [[1, 0, 0, 0], [0, 0, -1, -2], [0, 1, 0, 0], [0, 0, 0, 1]]
CV_FRONTAL_W2C = [[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 2], [0, 0, 0, 1]]


def test_reads_plain_matrices_in_each_named_convention(tmp_path):
    (tmp_path / "gl.json").write_text(json.dumps([GL_FRONTAL]))
    (tmp_path / "cv.json").write_text(json.dumps([CV_FRONTAL_W2C]))
    for name, fmt in (("gl.json", "c2w-opengl"), ("cv.json", "w2c-opencv")):
        _same(read_cameras(tmp_path / name, fmt, units_per_metre=1.35, anchor="world"), FRONTAL, tol=1e-12)
    with pytest.raises(ValueError, match="name its format"):
        read_cameras(tmp_path / "gl.json")


@pytest.mark.parametrize(
    "matrix, match",
    [
        (np.diag([1, 1, -1, 1]), "matrix 1 has a rotation of determinant -1 .*Unreal"),
        (np.diag([2, 2, 2, 1]), "matrix 1 has a rotation that is not orthonormal"),
        (np.array([[1, 0, 0, np.nan], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), "matrix 1 holds NaN"),
        (np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [3, 0, 0, 1]]), "matrix 1 has the last row .*transposed"),
        (np.eye(3), "4x4 matrices"),
    ],
)
def test_bad_matrices_are_refused_naming_the_matrix(matrix, match, tmp_path):
    data = [np.eye(4).tolist(), matrix.tolist()] if matrix.shape == (4, 4) else [matrix.tolist()]
    (tmp_path / "m.json").write_text(json.dumps(data).replace("NaN", "1e999"))
    with pytest.raises(ValueError, match=match):
        read_cameras(tmp_path / "m.json", "c2w-opencv")


def test_reads_a_realestate10k_file(tmp_path):
    fy = 0.5 / np.tan(np.deg2rad(30))  # 60 degrees across the height of a 16:9 frame
    fx = fy * 9 / 16
    w2c = lambda x: [1, 0, 0, -x, 0, 0, -1, 0, 0, 1, 0, 2]  # looking along +Y, 2 m in front, x m right
    lines = ["https://www.youtube.com/watch?v=0000000000"]
    lines += [" ".join(map(str, [33366667 * i, fx, fy, 0.5, 0.5, 0, 0, *w2c(x)])) for i, x in enumerate([0, 1])]
    (tmp_path / "pose.txt").write_text("\n".join(lines) + "\n")
    cams = read_cameras(tmp_path / "pose.txt")  # relative to the first camera, as CameraCtrl reads it
    np.testing.assert_allclose(cams.hfov_deg, [60, 60], atol=1e-9)
    np.testing.assert_allclose(cams.centers, [[0, -2.7, 0], [DEFAULT_UNITS_PER_METRE, -2.7, 0]], atol=1e-12)
    np.testing.assert_allclose(cams.R, np.repeat(FRONTAL.R, 2, 0), atol=1e-12)
    (tmp_path / "zero.txt").write_text(lines[0] + "\n" + lines[1].replace(f" {fx} {fy} ", " 0 0 ", 1) + "\n")
    with pytest.raises(ValueError, match="camera 0 has a field of view of 180 degrees"):
        read_cameras(tmp_path / "zero.txt")
    (tmp_path / "bad.txt").write_text(lines[0] + "\n" + lines[1] + "\n1 2 3\n")
    with pytest.raises(ValueError, match="line 3: expected 19 numbers"):
        read_cameras(tmp_path / "bad.txt")


def test_reads_a_nerfstudio_camera_path(tmp_path):
    flat = np.array(GL_FRONTAL, float).reshape(16).tolist()
    data = {
        "camera_type": "perspective",
        "render_height": 1080,
        "render_width": 1920,
        "camera_path": [{"camera_to_world": flat, "fov": 50, "aspect": 16 / 9}, {"camera_to_world": flat, "fov": 50}],
        "fps": 24,
        "seconds": 1,
    }
    (tmp_path / "camera_path.json").write_text(json.dumps(data))
    cams = read_cameras(tmp_path / "camera_path.json", units_per_metre=1.35, anchor="world")
    _same(cams, type(cams)(np.repeat(FRONTAL.R, 2, 0), np.repeat(FRONTAL.t, 2, 0), [50, 50]), tol=1e-12)
    data["camera_path"][0]["aspect"] = 9 / 16  # portrait: the width is the shorter side
    (tmp_path / "camera_path.json").write_text(json.dumps(data))
    portrait = read_cameras(tmp_path / "camera_path.json").hfov_deg[0]
    assert portrait == pytest.approx(np.rad2deg(2 * np.arctan(9 / 16 * np.tan(np.deg2rad(25)))), abs=1e-9)


def test_unknown_formats_and_scales_are_refused(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps([GL_FRONTAL]))
    with pytest.raises(ValueError, match="unknown camera format 'colmap'"):
        read_cameras(tmp_path / "p.json", "colmap")
    with pytest.raises(ValueError, match="units_per_metre"):
        read_cameras(tmp_path / "p.json", "c2w-opengl", units_per_metre=0)
    behind = CameraPath(*look_at(np.array([[0, 2.7, 0]]), np.zeros((1, 3))), [40])  # the back of the head
    with pytest.raises(ValueError, match="frame 0 cannot be a kit keyframe: azimuth .* -180"):
        write_cameras(behind, tmp_path / "k.json", "kit")
    down = CameraPath(np.diag([1.0, -1, -1])[None], np.array([[0, 0, 2.7]]), [40])
    with pytest.raises(ValueError, match="frame 0 looks straight up or down"):
        write_cameras(down, tmp_path / "k.json", "kit")


def _cli(capsys, *argv):
    code = main(list(map(str, argv)))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_convert_writes_a_file_render_accepts(tmp_path, capsys):
    write_cameras(PATH, tmp_path / "path.txt", "realestate10k")
    code, out, err = _cli(capsys, "trajectory", "convert", tmp_path / "path.txt", tmp_path / "mine.json")
    assert code == 0 and f"wrote {tmp_path / 'mine.json'}" in out, err
    traj = load_trajectory(tmp_path / "mine.json")  # what render --trajectory does, then its check
    _same(check_trajectory(traj, load_template()), read_cameras(tmp_path / "path.txt", anchor=None))  # as the CLI
    code, _, _ = _cli(capsys, "trajectory", "convert", "arc_left", tmp_path / "arc.json", "--to", "nerfstudio")
    assert code == 0 and guess_format(tmp_path / "arc.json") == "nerfstudio"
    # an existing file is never replaced; a missing one is named; both one error line, exit 2
    before = (tmp_path / "mine.json").read_bytes()
    code, _, err = _cli(capsys, "trajectory", "convert", "arc_left", tmp_path / "mine.json")
    assert code == 2 and err.startswith("error: OUT") and "exists" in err and len(err.splitlines()) == 1
    assert (tmp_path / "mine.json").read_bytes() == before
    write_cameras(CameraPath(PATH.R[:80], PATH.t[:80], PATH.hfov_deg[:80]), tmp_path / "p80.txt", "realestate10k")
    code, _, err = _cli(capsys, "trajectory", "convert", tmp_path / "p80.txt", tmp_path / "k80.json")
    assert code == 2 and "as a kit trajectory" in err and "4k+1" in err and not (tmp_path / "k80.json").exists()
    code, _, err = _cli(
        capsys, "trajectory", "convert", tmp_path / "no.txt", tmp_path / "x.json", "--from", "nerfstudio"
    )
    assert code == 2 and "camera file not found" in err and not (tmp_path / "x.json").exists()


def test_cli_show_prints_the_path_around_the_head_and_writes_the_3d_view(tmp_path, capsys):
    write_cameras(PATH, tmp_path / "path.txt", "realestate10k")
    html = tmp_path / "view.html"
    # the kit wrote it (its first line says so): read back where it was, as --anchor world reads it
    code, out, _ = _cli(capsys, "trajectory", "show", tmp_path / "path.txt", "--html", html)
    assert code == 0 and "units_per_metre = 0.675" in out and "render --trajectory accepts" in out
    rows = np.array([line.split()[:5] for line in out.splitlines() if line[:5].strip().isdigit()], float)
    assert len(rows) == 81
    np.testing.assert_allclose(rows[[0, 40, 80], 1], [-30, 20, 30], atol=0.05)  # azimuth
    np.testing.assert_allclose(rows[[0, 40, 80], 3], [2.7, 2.2, 3.2], atol=0.001)  # distance
    np.testing.assert_allclose(rows[[0, 80], 4], [35, 55], atol=0.05)  # hfov
    # relative to its first camera, started frontal: the path turns 30 degrees about the head
    code, out, _ = _cli(capsys, "trajectory", "show", tmp_path / "path.txt", "--anchor", "first")
    rows = np.array([line.split()[:5] for line in out.splitlines() if line[:5].strip().isdigit()], float)
    np.testing.assert_allclose(rows[[0, 40, 80], 1], [0, 50, 60], atol=0.05)
    assert "plotly" in (tmp_path / "view.html").read_text()[:100000]
    # read with twice the scale, relative to the frontal camera: further from the head, not accepted as is
    code, out, _ = _cli(
        capsys, "trajectory", "show", tmp_path / "path.txt", "--units-per-metre", "5", "--anchor", "first"
    )
    assert code == 0 and "units_per_metre = 5" in out and "would refuse" in out


# -- real tools' files (issue 37): written as the tools write them, rounded as they round ----------


def _rounded(text: str, digits: int) -> str:
    """``text`` with every decimal number written to ``digits`` decimals, as a tool's writer does."""
    import re

    return re.sub(r"-?\d+\.\d+(e-?\d+)?", lambda m: f"{float(m.group()):.{digits}f}", text)


def test_recammaster_file_at_6_decimals_is_read_and_made_orthonormal(tmp_path):
    # ReCamMaster's camera_extrinsics.json writes 6 decimals: rotations orthonormal to about 1e-6
    full = write_cameras(PATH, tmp_path / "full.json", "recammaster")
    official = tmp_path / "camera_extrinsics.json"
    official.write_text(_rounded(full.read_text(), 6))
    with pytest.warns(UserWarning, match=r"orthonormal to [0-9.e-]+ only .*made orthonormal"):
        cams = read_cameras(official, anchor="world", start=PATH)
    np.testing.assert_allclose(np.swapaxes(cams.R, 1, 2) @ cams.R, np.broadcast_to(np.eye(3), cams.R.shape), atol=1e-12)
    _same(cams, PATH, fov=False, tol=1e-5)  # the path, to the file's precision
    # a matrix that is truly not a rotation (scaled by 1%) is still refused
    text = json.loads(full.read_text())
    m = np.array([[float(v) for v in r.strip("[] ").split()] for r in text["frame3"]["cam01"].strip().split("] [")])
    m[:3, :3] *= 1.01
    text["frame3"]["cam01"] = _unreal(m)
    (tmp_path / "scaled.json").write_text(json.dumps(text))
    with pytest.raises(ValueError, match="matrix 3 has a rotation that is not orthonormal \\(R\\^T R is 0.02"):
        read_cameras(tmp_path / "scaled.json")


def test_realestate10k_and_nerfstudio_files_at_their_precision(tmp_path):
    # RealEstate10K's pose text: 9 decimals; nerfstudio's viewer: float32 matrices, fov and aspect per camera
    text = write_cameras(PATH, tmp_path / "full.txt", "realestate10k").read_text()
    (tmp_path / "re10k.txt").write_text(_rounded(text, 9))
    _same(read_cameras(tmp_path / "re10k.txt", anchor="world"), PATH, tol=1e-6)
    c2w = _c2w(PATH)
    c2w[:, :3, 3] /= DEFAULT_UNITS_PER_METRE
    gl = (c2w @ np.diag([1.0, -1, -1, 1])).astype(np.float32)
    data = {
        "keyframes": [],
        "camera_type": "perspective",
        "render_height": 480,
        "render_width": 480,
        "camera_path": [
            {"camera_to_world": m.reshape(16).tolist(), "fov": float(np.float32(f)), "aspect": 1}
            for m, f in zip(gl, PATH.hfov_deg)
        ],
        "fps": 24,
        "seconds": len(gl) / 24,
        "smoothness_value": 0.5,
        "is_cycle": False,
        "crop": None,
    }
    (tmp_path / "camera_path.json").write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="made orthonormal"):
        cams = read_cameras(tmp_path / "camera_path.json", anchor="world")
    _same(cams, PATH, tol=1e-5)


def test_a_recammaster_file_with_a_frame_missing_is_refused(tmp_path):
    data = json.loads(write_cameras(PATH, tmp_path / "full.json", "recammaster").read_text())
    del data["frame41"]
    (tmp_path / "gap.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="frame41 is missing of frame0 ... frame80"):
        read_cameras(tmp_path / "gap.json")


def test_a_round_trip_with_default_options_returns_the_path_or_names_the_option(tmp_path, capsys):
    kit = write_cameras(PATH, tmp_path / "path.json", "kit")
    start = load_trajectory(kit).cameras()
    for fmt in FORMATS[1:]:
        there = tmp_path / f"there_{fmt}.{'txt' if fmt == 'realestate10k' else 'json'}"
        code, out, err = _cli(capsys, "trajectory", "convert", kit, there, "--to", fmt)
        assert code == 0, err
        back = tmp_path / f"back_{fmt}.json"
        extra = ["--anchor", "world"] if "--anchor world" in out else []  # what the tool said it needs
        assert extra == ([] if fmt in WITH_FOV | {"recammaster"} else ["--anchor", "world"]), (fmt, out)
        code, _, err = _cli(capsys, "trajectory", "convert", there, back, "--from", fmt, *extra)
        assert code == 0, err
        _same(load_trajectory(back).cameras(), start, fov=fmt in WITH_FOV, tol=1e-6)
