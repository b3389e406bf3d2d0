"""Camera paths in other tools' formats, in and out of the kit's one convention.

Every reader turns a file into camera-to-world matrices with OpenCV camera axes in a right-handed
world, in the file's own length unit (metres for all four formats), then places them around the
head (:func:`read_cameras`); every writer does the reverse (:func:`write_cameras`). Formats
(docs/cameras.md has the table of axes, units, direction and reference frame):

* ``kit``: a trajectory JSON (``load_trajectory``); written as a :class:`KeyframeTrajectory`
  with a keyframe per frame, so ``render --trajectory`` accepts it.
* ``recammaster``: ReCamMaster's ``camera_extrinsics.json`` (``{"frame0": {"cam01": "[..] [..] [..] [..]"}}``),
  read as its official parser reads it (docs/official_behaviour.md, section 5.2): each matrix
  string is camera-to-world with the translation in the last row, Unreal axes (X forward, Y right,
  Z up) and centimetres.
* ``c2w-opencv``, ``c2w-opengl``, ``w2c-opencv``, ``w2c-opengl``: a JSON list of 4x4 matrices
  with the direction and the camera axes named (OpenGL: x right, y up, looking along -z).
* ``realestate10k``: RealEstate10K / CameraCtrl pose text: a first line (the video URL), then per
  frame ``timestamp fx fy cx cy 0 0`` and the 3x4 world-to-camera matrix row by row, intrinsics
  divided by the image width (fx, cx) and height (fy, cy).
* ``nerfstudio``: nerfstudio's ``camera_path.json``: ``camera_to_world`` (16 numbers, row-major,
  OpenGL axes), ``fov`` in degrees across the image height, ``aspect``, ``render_height/width``.

**Scale.** A metric path cannot be placed around a head until we say how many proxy units a
metre is: ``units_per_metre`` (default ``DEFAULT_UNITS_PER_METRE = 2.7 / 4``, ReCamMaster's 4 m
orbit pivot on the head centre). Notebooks 01 and 07 show why no file can tell: the same metric
move shifts a small near head four times more than a large far one, and extrinsics do not change
with the scene's scale. Choose it so that the path's orbit centre lands on the head.

**Field of view.** The kit's ``hfov`` is the field of view across the shorter image side (the
official proxy renders a min(H, W) square, the 480-pixel width of 480 x 704); a file's field of
view across its shorter side becomes it. Principal points are not kept (the kit centres its square).

Taught in notebook 03 (trajectories); ``python -m facecam_kit trajectory convert`` runs it.
"""

from __future__ import annotations

import json
import numbers
import warnings
from pathlib import Path

import numpy as np

from facecam_kit.geometry.camera import CameraPath
from facecam_kit.geometry.trajectory import (
    DEFAULT_UNITS_PER_METRE,
    OrbitTrajectory,
    apply_relative_motion,
    keyframes_from_cameras,
    load_trajectory,
    save_trajectory,
)
from facecam_kit.outputs import write_text_file
from facecam_kit.spec import FPS, check_frame_count
from facecam_kit.userfiles import parse_json, read_json, read_text, short

MATRIX_FORMATS = ("c2w-opencv", "c2w-opengl", "w2c-opencv", "w2c-opengl")
FORMATS = ("kit", "recammaster", *MATRIX_FORMATS, "realestate10k", "nerfstudio")
ANCHORS = ("first", "world")
#: OpenGL camera axes (x right, y up, looking along -z) <-> OpenCV's (x right, y down, z forward)
GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])
#: Unreal's left-handed world (X forward, Y right, Z up) <-> a right-handed one (Y flipped)
UNREAL_WORLD = np.diag([1.0, -1.0, 1.0, 1.0])
#: the size nerfstudio and RealEstate10K files are written for: the proxy's rendered square
SQUARE = 480
#: the key (nerfstudio, ReCamMaster) or first line (RealEstate10K) by which a file says the kit wrote
#: it around the head, so that it reads back where it was (anchor "world") with default options
KIT_MARK = "facecam_kit"
KIT_MARK_TEXT = "written by facecam_kit around the head (origin at the head centre): read with --anchor world"
#: the scales a metric path may be placed with: outside, the head is a dot or the path inside it
UNITS_PER_METRE_RANGE = (1e-6, 1e6)


#: How far from orthonormal a file's rotation may be (max |R^T R - I|) and still be read as a rotation
#: written coarsely: real tools write float32 (1e-7) or 6 decimals (ReCamMaster's own
#: camera_extrinsics.json: 1.1e-6); a scaled or sheared matrix, or intrinsics multiplied in, is
#: off by 1e-2 and more. Accepted rotations are made orthonormal (the nearest rotation, by SVD).
ORTHONORMAL_TOL = 1e-3
#: ... and below which it is rounding of no consequence (9 decimals): read as it is, without a warning
ROUNDING_TOL = 1e-8


def check_rigid(m, what: str, tol: float = 1e-6) -> np.ndarray:
    """(F, 4, 4) float64 rigid transforms, or ValueError naming the first bad matrix and what is wrong:
    not finite, last row not (0, 0, 0, 1) (to ``tol``), rotation off orthonormal by more than
    ``ORTHONORMAL_TOL``, determinant not +1. Rotations written coarsely are made orthonormal, with
    a warning saying how far off the worst one was (docs/camera_files.md: the real files tried)."""
    try:
        m = np.array(m, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: not a list of 4x4 matrices of numbers ({short(m)})") from None
    if m.ndim != 3 or m.shape[1:] != (4, 4) or len(m) == 0:
        raise ValueError(f"{what}: expected a non-empty list of 4x4 matrices, got shape {m.shape}")
    check_frame_count(len(m), what)
    R = m[:, :3, :3]
    with np.errstate(invalid="ignore"):
        off = np.abs(np.swapaxes(R, 1, 2) @ R - np.eye(3)).max((1, 2))
    for i, a in enumerate(m):
        if not np.isfinite(a).all():
            problem = "holds NaN or infinity"
        elif np.abs(a[3] - [0, 0, 0, 1]).max() > tol:
            problem = f"has the last row {a[3].tolist()}, not [0, 0, 0, 1] (a projection, or a transposed matrix?)"
        elif off[i] > ORTHONORMAL_TOL:
            problem = (
                f"has a rotation that is not orthonormal (R^T R is {off[i]:.2g} from the identity, more than the "
                f"{ORTHONORMAL_TOL:g} of a rotation written coarsely: scaled, sheared, or intrinsics multiplied in?)"
            )
        elif np.linalg.det(a[:3, :3]) < 0:
            problem = "has a rotation of determinant -1 (left-handed axes such as Unreal's, or a flipped axis)"
        else:
            continue
        raise ValueError(f"{what}: matrix {i} {problem}")
    if off.max() > ROUNDING_TOL:
        U, _, Vt = np.linalg.svd(R)
        m[:, :3, :3] = U @ Vt
        m[:, 3] = (0, 0, 0, 1)
        worst = int(np.argmax(off))
        warnings.warn(
            f"{what}: rotations orthonormal to {off[worst]:.2g} only (matrix {worst}; rounded as float32 or "
            f"decimals are): made orthonormal",
            stacklevel=2,
        )
    return m


def check_units_per_metre(units_per_metre) -> float:
    """``units_per_metre`` as a float, or ValueError unless it is a number in [1e-6, 1e6] (0, NaN or a
    negative scale would collapse, blank or mirror the path)."""
    if isinstance(units_per_metre, bool) or not isinstance(units_per_metre, numbers.Real):
        raise ValueError(f"units_per_metre (--units-per-metre) must be a number, got {short(units_per_metre)}")
    if not (np.isfinite(units_per_metre) and UNITS_PER_METRE_RANGE[0] <= units_per_metre <= UNITS_PER_METRE_RANGE[1]):
        lo, hi = UNITS_PER_METRE_RANGE
        raise ValueError(
            f"units_per_metre (--units-per-metre) must be a number in [{lo:g}, {hi:g}] (proxy units per metre; default "
            f"{DEFAULT_UNITS_PER_METRE:g}), got {short(units_per_metre)}"
        )
    return float(units_per_metre)


def _c2w_of(cameras: CameraPath) -> np.ndarray:
    c2w = np.tile(np.eye(4), (len(cameras), 1, 1))
    c2w[:, :3, :3] = np.swapaxes(cameras.R, 1, 2)
    c2w[:, :3, 3] = cameras.centers
    return c2w


def _fov_across_short_side(fx_over_w, fy_over_h) -> np.ndarray:
    """Degrees across the shorter side from focal lengths divided by width and height (square pixels:
    the shorter side has the larger ratio)."""
    with np.errstate(divide="ignore"):  # a zero focal length gives 180 degrees, refused by read_cameras
        return np.rad2deg(2 * np.arctan(0.5 / np.maximum(fx_over_w, fy_over_h)))


# readers: path -> (c2w (F, 4, 4) OpenCV camera axes, right-handed world, metres; hfov (F,) or None)


def parse_unreal_matrix(text: str) -> np.ndarray:
    """One ReCamMaster matrix string, as the official parser splits it: rows between ``] [``."""
    rows = [row.replace("[", "").replace("]", "").split() for row in text.strip().split("] [")]
    return np.array([[float(v) for v in row] for row in rows])


def _read_recammaster(path: Path, camera: int = 1) -> tuple[np.ndarray, None]:
    data = read_json(path, "ReCamMaster camera file")
    key = f"cam{camera:02d}"
    if not isinstance(data, dict) or "frame0" not in data:
        raise ValueError(f"ReCamMaster camera file {path} must map frame0, frame1, ... to cameras; got {short(data)}")
    check_frame_count(len(data), f"ReCamMaster camera file {path}")
    indices = [int(k[5:]) for k in data if k.startswith("frame") and k[5:].isdigit()]
    gap = next((i for i in range(max(indices) + 1) if f"frame{i}" not in data), None)
    if gap is not None:  # a path read up to the gap would drop the rest without a word
        raise ValueError(
            f"ReCamMaster camera file {path}: frame{gap} is missing of frame0 ... frame{max(indices)}; "
            "restore it, or cut the path before it"
        )
    mats = []
    for i in range(max(indices) + 1):
        frame = data[f"frame{i}"]
        if not isinstance(frame, dict) or key not in frame:
            cams = sorted(frame) if isinstance(frame, dict) else frame
            raise ValueError(f"{path}: frame{i} has no camera {key} (it holds {short(cams)}); choose --camera")
        try:
            m = parse_unreal_matrix(frame[key])
            if m.shape != (4, 4):
                raise ValueError
        except (ValueError, AttributeError):  # AttributeError: not a string
            raise ValueError(f"{path}: frame{i} {key} is not a 4x4 matrix string: {short(frame[key])}") from None
        c2w = m.T[:, [1, 2, 0, 3]]  # transposed to columns; Unreal (X fwd, Y right, Z up) -> OpenCV camera axes
        c2w[:3, 1] *= -1
        c2w[:3, 3] /= 100  # centimetres -> metres
        mats.append(UNREAL_WORLD @ c2w)  # right-handed world; cancels in every relative pose
    return check_rigid(mats, f"ReCamMaster camera file {path} ({key})"), None


def _read_matrices(path: Path, fmt: str) -> tuple[np.ndarray, None]:
    m = check_rigid(read_json(path, "matrix file"), f"matrix file {path} ({fmt})")
    c2w = m if fmt.startswith("c2w") else np.linalg.inv(m)
    return (c2w @ GL_TO_CV if fmt.endswith("opengl") else c2w), None


def _read_realestate10k(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = []
    for n, line in enumerate(read_text(path, "pose file").splitlines(), 1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()]
            if len(values) != 19:
                raise ValueError
        except ValueError:
            if n == 1:  # the video's URL, which CameraCtrl's parser skips
                continue
            raise ValueError(
                f"pose file {path}, line {n}: expected 19 numbers (timestamp fx fy cx cy 0 0 and a 3x4 "
                f"world-to-camera matrix), got {short(line)}"
            ) from None
        rows.append(values)
    if not rows:
        raise ValueError(f"pose file {path} holds no pose line")
    rows = np.array(rows)
    w2c = np.tile(np.eye(4), (len(rows), 1, 1))
    w2c[:, :3] = rows[:, 7:].reshape(-1, 3, 4)
    hfov = _fov_across_short_side(rows[:, 1], rows[:, 2])
    return np.linalg.inv(check_rigid(w2c, f"pose file {path}")), hfov


def _read_nerfstudio(path: Path) -> tuple[np.ndarray, np.ndarray]:
    data = read_json(path, "nerfstudio camera path")
    frames = data.get("camera_path") if isinstance(data, dict) else None
    if not isinstance(frames, list) or not frames:
        raise ValueError(f"nerfstudio camera path {path} needs a non-empty 'camera_path' list")
    size = (data.get("render_width"), data.get("render_height"))
    mats, fovs = [], []
    for i, f in enumerate(frames):
        try:
            mats.append(np.asarray(f["camera_to_world"], dtype=np.float64).reshape(4, 4))
            vfov = float(f["fov"])
            aspect = float(f.get("aspect") or size[0] / size[1])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            raise ValueError(
                f"nerfstudio camera path {path}, camera {i}: needs camera_to_world (16 numbers), fov and "
                f"aspect (or render_width and render_height), got {short(f)}"
            ) from None
        fy_over_h = 0.5 / np.tan(np.deg2rad(vfov) / 2)
        fovs.append(_fov_across_short_side(fy_over_h / aspect, fy_over_h))
    c2w = check_rigid(mats, f"nerfstudio camera path {path}") @ GL_TO_CV
    return c2w, np.array(fovs)


# writers: (c2w (F, 4, 4) as above, hfov (F,)) -> file text


def _write_recammaster(c2w, hfov) -> str:
    frames = {}
    for i, a in enumerate(UNREAL_WORLD @ c2w):
        cols = np.zeros((4, 4))
        cols[:, [1, 2, 0, 3]] = a
        cols[:3, 2] *= -1  # undo the parser's negation of (what becomes) column 1
        cols[:3, 3] *= 100  # metres -> centimetres
        text = " ".join("[" + " ".join(repr(float(v)) for v in row) + "]" for row in cols.T)
        frames[f"frame{i}"] = {"cam01": text + " "}
    return json.dumps({**frames, KIT_MARK: KIT_MARK_TEXT}, indent=1)  # the official parser reads frameN only


def _write_matrices(c2w, hfov, fmt: str) -> str:
    m = c2w @ GL_TO_CV if fmt.endswith("opengl") else c2w
    m = m if fmt.startswith("c2w") else np.linalg.inv(m)
    return json.dumps(m.tolist())


def _write_realestate10k(c2w, hfov) -> str:
    f = 0.5 / np.tan(np.deg2rad(hfov) / 2)  # on a square image, divided by its side
    w2c = np.linalg.inv(c2w)[:, :3].reshape(-1, 12)
    lines = [f"{KIT_MARK} camera path, {KIT_MARK_TEXT} (first line: the source, skipped by readers)"]
    for i in range(len(c2w)):
        values = [f[i], f[i], 0.5, 0.5, 0.0, 0.0, *w2c[i]]
        lines.append(" ".join([str(round(i * 1e6 / FPS))] + [repr(float(v)) for v in values]))
    return "\n".join(lines) + "\n"


def _write_nerfstudio(c2w, hfov) -> str:
    path = [
        {"camera_to_world": m.reshape(16).tolist(), "fov": float(v), "aspect": 1.0}
        for m, v in zip(c2w @ GL_TO_CV, hfov)
    ]
    return json.dumps(
        {
            "camera_type": "perspective",
            "render_height": SQUARE,
            "render_width": SQUARE,
            "fps": FPS,
            "seconds": len(c2w) / FPS,
            "camera_path": path,
            KIT_MARK: KIT_MARK_TEXT,
        },
        indent=1,
    )


def guess_format(path) -> str:
    """The format of an existing file from its extension and top-level keys, or ValueError."""
    path = Path(path)
    if path.suffix == ".txt":
        return "realestate10k"
    data = parse_json(read_text(path, "camera file"), f"camera file {path}")
    if isinstance(data, dict):
        if "kind" in data:
            return "kit"
        if "camera_path" in data:
            return "nerfstudio"
        if "frame0" in data:
            return "recammaster"
    what = "a list of matrices" if isinstance(data, list) else f"a file with keys {short(sorted(data))}"
    raise ValueError(f"{path} is {what}: name its format, one of {', '.join(FORMATS)}")


def written_by_kit(path, fmt: str) -> bool:
    """Whether a camera file says the kit wrote it around the head (:data:`KIT_MARK`); a list of
    matrices has no place to say it."""
    if fmt == "realestate10k":
        return read_text(path, "pose file").startswith(KIT_MARK)
    if fmt in ("recammaster", "nerfstudio"):
        data = read_json(path, "camera file")
        return isinstance(data, dict) and KIT_MARK in data
    return False


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown camera format {short(fmt)}; choose one of {', '.join(FORMATS)}")
    return fmt


def read_cameras(
    path,
    fmt: str | None = None,
    units_per_metre: float = DEFAULT_UNITS_PER_METRE,
    anchor: str | None = "first",
    start: CameraPath | None = None,
    camera: int = 1,
) -> CameraPath:
    """The cameras of a file in the proxy-head world (OpenCV axes, world-to-camera).

    fmt: one of ``FORMATS`` (guessed from the file when None). A metric path is placed around the
    head by ``anchor``: ``"first"`` (as ReCamMaster's and CameraCtrl's parsers read poses: relative
    to the first camera, which becomes ``start``'s first camera, default the official frontal
    camera at 2.7 units) or ``"world"`` (the file's world is the head's, its origin the head
    centre); None (``trajectory convert`` and ``show``'s default): ``"world"`` for a file the kit
    wrote (it says so, :func:`written_by_kit`: a round trip returns the path), else ``"first"``. Positions are
    multiplied by ``units_per_metre``; see the module docstring for why it
    must be named. A format without a field of view takes ``start``'s (40 degrees by default).
    A ``kit`` file is read as it is (it is already around the head, in proxy units).
    camera: ReCamMaster's camera number (cam01 ... cam10).
    """
    path = Path(path)
    units_per_metre = check_units_per_metre(units_per_metre)
    fmt = _check_format(guess_format(path) if fmt is None else fmt)
    if fmt == "kit":
        return load_trajectory(path).cameras()
    if anchor is None:
        anchor = "world" if written_by_kit(path, fmt) else "first"
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {ANCHORS}, got {short(anchor)}")
    if fmt == "recammaster":
        c2w, hfov = _read_recammaster(path, camera)
    elif fmt in MATRIX_FORMATS:
        c2w, hfov = _read_matrices(path, fmt)
    else:
        c2w, hfov = (_read_realestate10k if fmt == "realestate10k" else _read_nerfstudio)(path)
    if hfov is not None:
        bad = np.flatnonzero(~((hfov > 0) & (hfov < 180)))  # NaN too
        if len(bad):
            raise ValueError(
                f"{fmt} file {path}: camera {bad[0]} has a field of view of {hfov[bad[0]]:g} degrees "
                "(focal length or fov not positive?); it must lie in (0, 180)"
            )
    start = OrbitTrajectory(num_frames=1).cameras() if start is None else start
    if anchor == "world":
        c2w = c2w.copy()
        c2w[:, :3, 3] *= units_per_metre
        R = np.swapaxes(c2w[:, :3, :3], 1, 2)
        return CameraPath(
            R, -np.einsum("fij,fj->fi", R, c2w[:, :3, 3]), np.full(len(R), start.hfov_deg[0]) if hfov is None else hfov
        )
    rel = np.linalg.inv(c2w[0]) @ c2w
    return apply_relative_motion(start, rel[:, :3, :3], rel[:, :3, 3], units_per_metre, hfov)


def write_cameras(cameras: CameraPath, path, fmt: str, units_per_metre: float = DEFAULT_UNITS_PER_METRE) -> Path:
    """Write ``cameras`` (proxy-head world) as ``fmt``, positions divided by ``units_per_metre``
    (metres in every foreign format); the world is the head's (origin at the head centre, +Z up).
    ``kit`` writes a keyframe per frame (ValueError when a camera is outside the kit's limits)."""
    path = Path(path)
    units_per_metre = check_units_per_metre(units_per_metre)
    if _check_format(fmt) == "kit":
        return save_trajectory(keyframes_from_cameras(cameras), path)
    c2w = _c2w_of(cameras)
    c2w[:, :3, 3] /= units_per_metre
    if fmt == "recammaster":
        text = _write_recammaster(c2w, cameras.hfov_deg)
    elif fmt in MATRIX_FORMATS:
        text = _write_matrices(c2w, cameras.hfov_deg, fmt)
    else:
        text = (_write_realestate10k if fmt == "realestate10k" else _write_nerfstudio)(c2w, cameras.hfov_deg)
    return write_text_file(path, text + ("" if text.endswith("\n") else "\n"))
