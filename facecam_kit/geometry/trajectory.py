"""Camera trajectories: FaceCam's proxy orbits, ReCamMaster's 10 basic trajectories, keyframes.

A trajectory is a small, JSON-serialisable description; ``.cameras()`` turns it into a
:class:`~facecam_kit.geometry.camera.CameraPath` in the proxy-head world (head at the origin facing -Y,
+Z up, frontal camera at distance 2.7).

* :class:`OrbitTrajectory` is the official proxy trajectory: azimuth, elevation and horizontal
  field of view, each interpolated linearly from start to end (official gaussians_renderer.py).
  Azimuth is an offset from the frontal view (the official base azimuth is 270 degrees).
* :class:`PresetTrajectory` is one of ReCamMaster's 10 basic trajectories, a relative motion in
  the first camera's frame with translations in *metres*. A metre means nothing to a monocular
  portrait: we must pick how many proxy units a metre is. ReCamMaster's arcs orbit a point 4 m
  ahead; mapping that point onto the head centre, 2.7 units ahead, gives the default
  ``units_per_metre = 2.7 / 4``. Changing it changes the picture, and nothing in the extrinsics
  says which value is right: that is the scale ambiguity the kit teaches.
* :class:`KeyframeTrajectory` holds key cameras at frame indices (azimuth, elevation, distance,
  hfov, roll and an aim offset from the head centre), interpolated linearly or smoothly (PCHIP).
  Described around the head, it needs no depth and no scale: the answer to "how do I orbit the
  centre of my video?". :func:`keyframes_from_cameras` turns any camera path into one.

``load_trajectory`` also takes ``random:SEED`` and ``random`` (a seed drawn once per process):
FaceCam's official sampler.

Taught in notebook 03 (trajectory sliders); used in notebooks 05-07.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from facecam_kit.geometry.camera import (
    CameraPath,
    look_at,
    orbit_angles,
    orbit_cameras,
    orbit_positions,
    rotation_about_axis,
)
from facecam_kit.outputs import write_text_file
from facecam_kit.spec import (
    HEIGHT,
    LIMITS,
    MIN_FACE_HEIGHT,
    MIN_VISIBLE_LANDMARKS,
    NUM_FRAMES,
    OFFICIAL_RANGES,
    PROXY_RADIUS,
    WIDTH,
    check_num_frames,
)
from facecam_kit.userfiles import read_json, short


def _pair(name: str, value) -> tuple[float, float]:
    """A (start, end) pair of numbers, or ValueError naming the field."""
    try:
        if isinstance(value, str | bytes) or len(value) != 2:
            raise TypeError
        return tuple(_number(name, v) for v in value)
    except TypeError:
        raise ValueError(f"{name} must be a (start, end) pair of numbers, got {short(value)}") from None


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {short(value)}")
    return float(value)


def _check_positive(name: str, value) -> None:
    if not (math.isfinite(_number(name, value)) and value > 0):
        raise ValueError(f"{name} must be a finite positive number, got {short(value)}")


def _check_range(name: str, values, lo: float, hi: float, hint: str = "") -> None:
    for v in values:
        if not np.isfinite(v) or v < lo or v > hi:
            raise ValueError(f"{name} = {v} is outside the allowed range [{lo}, {hi}]{hint}")


@dataclass(frozen=True)
class OrbitTrajectory:
    """The official proxy orbit: (start, end) pairs in degrees, interpolated over frames."""

    azimuth: tuple[float, float] = (0.0, 0.0)
    elevation: tuple[float, float] = (0.0, 0.0)
    hfov: tuple[float, float] = (40.0, 40.0)
    num_frames: int = NUM_FRAMES
    radius: float = PROXY_RADIUS
    kind: str = field(default="orbit", init=False)

    def __post_init__(self):
        for name in ("azimuth", "elevation", "hfov"):
            pair = _pair(name, getattr(self, name))
            object.__setattr__(self, name, pair)
            _check_range(f"{name} (degrees)", pair, *LIMITS[name])
        check_num_frames(self.num_frames)
        _check_positive("radius", self.radius)

    def angles(self) -> dict[str, np.ndarray]:
        """Per-frame azimuth, elevation and hfov in degrees, each (F,)."""
        return {n: np.linspace(*getattr(self, n), self.num_frames) for n in ("azimuth", "elevation", "hfov")}

    def cameras(self) -> CameraPath:
        a = self.angles()
        return orbit_cameras(a["azimuth"], a["elevation"], a["hfov"], self.radius)

    @classmethod
    def sample_official(cls, rng: np.random.Generator, num_frames: int = NUM_FRAMES) -> OrbitTrajectory:
        """FaceCam's random large-pose trajectory (official inference.py).

        Direction d = +-1; azimuth from U(-45d, -30d) to U(30d, 45d) (a 60-90 degree sweep);
        start and end elevation from U(-30, 30); start and end hfov from U(25, 55).
        """
        d = rng.choice([-1.0, 1.0])
        az0 = -d * rng.uniform(*OFFICIAL_RANGES["azimuth_start"])
        az1 = d * rng.uniform(*OFFICIAL_RANGES["azimuth_end"])
        el = rng.uniform(*OFFICIAL_RANGES["elevation"], size=2)
        fov = rng.uniform(*OFFICIAL_RANGES["hfov"], size=2)
        return cls((az0, az1), tuple(el), tuple(fov), num_frames)


# ReCamMaster's presets (docs/official_behaviour.md, section 5): relative motion from frame 0 to the last
# frame in the first camera's OpenCV frame, as (rotation axis, degrees, translation in metres).
RECAMMASTER_PRESETS = {
    "pan_right": ((0, 1, 0), 19.88, (0, 0, 0)),
    "pan_left": ((0, -1, 0), 19.88, (0, 0, 0)),
    "tilt_up": ((1, 0, 0), 9.94, (0, 0, 0)),
    "tilt_down": ((-1, 0, 0), 9.94, (0, 0, 0)),
    "zoom_in": ((0, 1, 0), 0.0, (0, 0, 1.988)),
    "zoom_out": ((0, 1, 0), 0.0, (0, 0, -1.988)),
    "translate_up": ((-1, 0, 0), 13.95, (0, -0.994, 0)),
    "translate_down": ((1, 0, 0), 13.95, (0, 0.994, 0)),
    "arc_left": ((0, 1, 0), 29.82, (-1.988, 0, 0.533)),
    "arc_right": ((0, -1, 0), 29.82, (1.988, 0, 0.533)),
}
#: ReCamMaster's camera ids (cam01 ... cam10) in the order of its README.
RECAMMASTER_IDS = {name: i + 1 for i, name in enumerate(RECAMMASTER_PRESETS)}
DEFAULT_UNITS_PER_METRE = PROXY_RADIUS / 4.0


def recammaster_relative_motion(name: str, num_frames: int = NUM_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Relative camera-to-world motion of a ReCamMaster preset, in metres.

    Frame ``i`` has rotation ``R_i`` (F, 3, 3) and position ``p_i`` (F, 3) in the first camera's
    frame; both move at constant speed (25/50/75% of the motion at frames 20/40/60 of 81, as the
    official poses do). The arcs' translation is interpolated along the chord.
    """
    if name not in RECAMMASTER_PRESETS:
        raise ValueError(f"unknown ReCamMaster trajectory {name!r}; choose one of {sorted(RECAMMASTER_PRESETS)}")
    check_num_frames(num_frames)
    axis, angle, trans = RECAMMASTER_PRESETS[name]
    s = np.linspace(0.0, 1.0, num_frames)
    return rotation_about_axis(axis, angle * s), s[:, None] * np.asarray(trans, dtype=np.float64)


@dataclass(frozen=True)
class PresetTrajectory:
    """A ReCamMaster basic trajectory applied to a start camera on the proxy orbit."""

    name: str = "arc_left"
    num_frames: int = NUM_FRAMES
    units_per_metre: float = DEFAULT_UNITS_PER_METRE
    start: OrbitTrajectory = OrbitTrajectory(num_frames=1)
    kind: str = field(default="recammaster", init=False)

    def __post_init__(self):
        if isinstance(self.start, dict):
            object.__setattr__(self, "start", trajectory_from_dict({"kind": "orbit", **self.start}))
        if not isinstance(self.start, OrbitTrajectory):
            raise ValueError(f"start must be an orbit (an object with azimuth, elevation...), got {short(self.start)}")
        if not isinstance(self.name, str) or self.name not in RECAMMASTER_PRESETS:
            raise ValueError(
                f"unknown ReCamMaster trajectory {short(self.name)}; choose one of {sorted(RECAMMASTER_PRESETS)}"
            )
        check_num_frames(self.num_frames)
        _check_positive("units_per_metre", self.units_per_metre)

    def cameras(self) -> CameraPath:
        R_rel, p_rel = recammaster_relative_motion(self.name, self.num_frames)
        cams = apply_relative_motion(self.start.cameras(), R_rel, p_rel, self.units_per_metre)
        depth = cams.t[:, 2]  # camera z of the head centre (the world origin)
        if np.any(depth < 0.5):
            raise ValueError(
                f"trajectory {self.name!r} with units_per_metre={self.units_per_metre} "
                f"brings the camera within {depth.min():.2f} units of the head centre "
                f"(or behind it); use a smaller units_per_metre"
            )
        return cams


def apply_relative_motion(start: CameraPath, R_rel, p_rel, units_per_metre: float, hfov_deg=None) -> CameraPath:
    """A relative motion in metres, started from the first camera of ``start``.

    R_rel (F, 3, 3) and p_rel (F, 3): camera-to-world rotation and position of each frame in the
    OpenCV frame of the path's first camera (as ReCamMaster's and CameraCtrl's parsers make them);
    positions are scaled by ``units_per_metre`` into the proxy world. hfov_deg (F,): per-frame field
    of view, default the start camera's. Returns a CameraPath.
    """
    R0, c0 = start.R[0], start.centers[0]
    # camera-to-world of frame i = (camera-to-world of frame 0) @ relative motion
    R = np.swapaxes(R_rel, -1, -2) @ R0
    centers = c0 + (units_per_metre * np.asarray(p_rel, np.float64)) @ R0
    t = -np.einsum("fij,fj->fi", R, centers)
    fov = np.full(len(R), start.hfov_deg[0]) if hfov_deg is None else hfov_deg
    return CameraPath(R, t, fov)


#: per-keyframe values, the interpolated fields in this order; aim is a point (3 numbers)
KEYFRAME_FIELDS = ("azimuth", "elevation", "distance", "hfov", "roll")
INTERPOLATIONS = ("linear", "smooth")


@dataclass(frozen=True)
class Keyframe:
    """One key camera: at ``frame`` (an index; fractional after resampling), on a sphere of radius
    ``distance`` (proxy units) about the head centre at ``azimuth`` / ``elevation`` degrees (as the
    official orbit places it), looking at the head centre + ``aim`` (3 proxy-world numbers: +Z up,
    the head faces -Y), with horizontal field of view ``hfov`` and ``roll`` degrees about the
    optical axis (positive turns the camera's x axis towards its y axis: the picture turns
    anticlockwise)."""

    frame: float = 0
    azimuth: float = 0.0
    elevation: float = 0.0
    distance: float = PROXY_RADIUS
    hfov: float = 40.0
    roll: float = 0.0
    aim: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self):
        for f in fields(self):
            if f.name != "aim":
                object.__setattr__(self, f.name, _number(f.name, getattr(self, f.name)))
        aim = self.aim
        if isinstance(aim, str | bytes) or not hasattr(aim, "__len__") or len(aim) != 3:
            raise ValueError(f"aim must be 3 numbers (an offset from the head centre), got {short(aim)}")
        object.__setattr__(self, "aim", tuple(_number("aim", v) for v in aim))
        for name in ("azimuth", "elevation", "hfov"):
            _check_range(f"{name} (degrees)", [getattr(self, name)], *LIMITS[name])
        _check_range("roll (degrees)", [self.roll], -180.0, 180.0)
        _check_range("aim", self.aim, -PROXY_RADIUS, PROXY_RADIUS)
        if not (math.isfinite(self.distance) and self.distance >= 0.5):
            raise ValueError(f"distance = {self.distance} must be at least 0.5 proxy units (the head's radius)")


@dataclass(frozen=True)
class KeyframeTrajectory:
    """Key cameras at frame indices, interpolated between them (held before the first and after the last).

    ``interpolation="smooth"`` is a monotone cubic Hermite spline (PCHIP, SciPy) per field: C1
    (speed changes without jumps at a keyframe, where linear interpolation kinks), and unlike a
    natural cubic spline it never overshoots: between two keyframes a value stays between their
    values, so a path whose keyframes lie inside ``spec.LIMITS`` stays inside them, and a hold
    (two equal keyframes) stays still. ``"linear"`` interpolates each field linearly.
    """

    keyframes: tuple[Keyframe, ...] = (Keyframe(),)
    num_frames: int = NUM_FRAMES
    interpolation: str = "smooth"
    kind: str = field(default="keyframes", init=False)

    def __post_init__(self):
        check_num_frames(self.num_frames)
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {short(self.interpolation)}")
        keys = self.keyframes
        if isinstance(keys, str | bytes | dict) or not hasattr(keys, "__len__") or len(keys) == 0:
            raise ValueError(f"keyframes must be a non-empty list of keyframes, got {short(keys)}")
        allowed = {f.name for f in fields(Keyframe)}
        checked, last = [], -1.0
        for i, k in enumerate(keys):
            try:
                if isinstance(k, dict):
                    unknown = sorted(set(k) - allowed)
                    if unknown:
                        raise ValueError(f"unknown key(s) {short(unknown)}; allowed: {', '.join(sorted(allowed))}")
                    k = Keyframe(**k)
                elif not isinstance(k, Keyframe):
                    raise ValueError(f"must be an object with frame, azimuth, elevation..., got {short(k)}")
                if not (last < k.frame <= self.num_frames - 1):
                    raise ValueError(
                        f"frame = {k.frame:g} must be after the previous keyframe's and at most "
                        f"{self.num_frames - 1} (num_frames - 1)"
                    )
            except ValueError as e:
                raise ValueError(f"keyframe {i}: {e}") from None
            checked.append(k)
            last = k.frame
        object.__setattr__(self, "keyframes", tuple(checked))

    def values(self) -> dict[str, np.ndarray]:
        """Per-frame azimuth, elevation, distance, hfov, roll (F,) and aim (F, 3)."""
        x = np.array([k.frame for k in self.keyframes])
        y = np.array([[getattr(k, n) for n in KEYFRAME_FIELDS] + list(k.aim) for k in self.keyframes])
        f = np.clip(np.arange(self.num_frames, dtype=np.float64), x[0], x[-1])  # held outside the keys
        if len(x) == 1:
            out = np.repeat(y, self.num_frames, 0)
        elif self.interpolation == "linear":
            out = np.stack([np.interp(f, x, col) for col in y.T], 1)
        else:
            from scipy.interpolate import PchipInterpolator

            out = PchipInterpolator(x, y, axis=0)(f)
        vals = {n: out[:, j] for j, n in enumerate(KEYFRAME_FIELDS)}
        vals["aim"] = out[:, len(KEYFRAME_FIELDS) :]
        return vals

    def cameras(self) -> CameraPath:
        v = self.values()
        eye = orbit_positions(v["azimuth"], v["elevation"], v["distance"][:, None])
        return rolled_cameras(eye, v["aim"], v["roll"], v["hfov"])

    def resampled(self, num_frames: int) -> KeyframeTrajectory:
        """The same path over ``num_frames`` frames: keyframe indices scaled by (num_frames - 1) / (F - 1)."""
        check_num_frames(num_frames)
        scale = (num_frames - 1) / (self.num_frames - 1)
        keys = tuple(replace(k, frame=k.frame * scale) for k in self.keyframes)
        return KeyframeTrajectory(keys, num_frames, self.interpolation)


def rolled_cameras(eye, aim, roll_deg, hfov_deg) -> CameraPath:
    """Cameras at ``eye`` (F, 3) looking at ``aim`` (F, 3) with +Z up, turned ``roll_deg`` (F,)
    about the optical axis (:class:`Keyframe`'s sign), field of view ``hfov_deg`` (F,)."""
    R, t = look_at(eye, aim)
    r = np.deg2rad(np.asarray(roll_deg, np.float64))
    c, s, o, i = np.cos(r), np.sin(r), np.zeros_like(r), np.ones_like(r)
    turn = np.stack([c, s, o, -s, c, o, o, o, i], -1).reshape(-1, 3, 3)  # x' = c x + s y, y' = -s x + c y
    return CameraPath(turn @ R, np.einsum("fij,fj->fi", turn, t), hfov_deg)


def camera_angles(cameras: CameraPath) -> dict[str, np.ndarray]:
    """Each camera described around the head, as :class:`Keyframe` fields: azimuth, elevation,
    distance, hfov, roll (F,) and aim (F, 3), the point of its optical axis nearest the head
    centre (the head centre itself for a camera looking at it; a point ``distance`` ahead for one
    looking away). Raises ValueError naming a frame whose camera looks straight up or down."""
    c = cameras.centers
    az, el = orbit_angles(c)
    dist = np.linalg.norm(c, axis=1)
    forward = cameras.R[:, 2]
    vertical = np.flatnonzero(np.abs(forward[:, 2]) > 1 - 1e-12)
    if len(vertical):
        raise ValueError(f"the camera of frame {vertical[0]} looks straight up or down: no keyframe (+Z up) holds it")
    ahead = -np.einsum("fi,fi->f", c, forward)
    aim = c + np.where(ahead > 1e-9, ahead, dist)[:, None] * forward
    R0, _ = look_at(c, aim)
    x = cameras.R[:, 0]
    roll = np.rad2deg(np.arctan2(np.einsum("fi,fi->f", x, R0[:, 1]), np.einsum("fi,fi->f", x, R0[:, 0])))
    return {"azimuth": az, "elevation": el, "distance": dist, "hfov": cameras.hfov_deg, "roll": roll, "aim": aim}


def keyframes_from_cameras(cameras: CameraPath, interpolation: str = "linear") -> KeyframeTrajectory:
    """A keyframe at every frame of ``cameras`` (F frames, 4k+1) that reproduces them (to about 1e-12),
    from :func:`camera_angles`. Raises ValueError naming the frame when a camera is outside ``spec.LIMITS``."""
    v = camera_angles(cameras)
    keys = []
    for i in range(len(cameras)):
        try:
            keys.append(Keyframe(i, *(v[n][i] for n in KEYFRAME_FIELDS), tuple(v["aim"][i])))
        except ValueError as e:
            raise ValueError(f"the camera of frame {i} cannot be a kit keyframe: {e}") from None
    return KeyframeTrajectory(tuple(keys), len(cameras), interpolation)


Trajectory = OrbitTrajectory | PresetTrajectory | KeyframeTrajectory


def _fields(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "kind"}


def trajectory_to_dict(traj: Trajectory) -> dict:
    """A JSON-ready dict with a ``kind`` key ("orbit", "recammaster" or "keyframes")."""
    return asdict(traj)


def trajectory_from_dict(d: dict) -> Trajectory:
    kinds = {"orbit": OrbitTrajectory, "recammaster": PresetTrajectory, "keyframes": KeyframeTrajectory}
    if not isinstance(d, dict):
        raise ValueError(f"a trajectory must be a JSON object with a 'kind', got {short(d)}")
    kind = d.get("kind")
    if kind is None and ("frame0" in d or "camera_path" in d):
        raise ValueError(
            "a camera file of another tool (ReCamMaster's or nerfstudio's), not a kit trajectory: convert it with "
            "python -m facecam_kit trajectory convert FILE OUT.json (its --units-per-metre places it around the head)"
        )
    if not isinstance(kind, str) or kind not in kinds:
        raise ValueError(f"trajectory 'kind' must be one of {sorted(kinds)}, got {short(kind)}")
    unknown = sorted(set(d) - {f.name for f in fields(kinds[kind])})
    if unknown:
        raise ValueError(f"unknown key(s) {short(unknown)} in a {kind} trajectory; allowed: {_allowed(kinds[kind])}")
    return kinds[kind](**_fields(d))


def _allowed(cls) -> str:
    return ", ".join(f.name for f in fields(cls) if f.init)


def save_trajectory(traj: Trajectory, path) -> Path:
    return write_text_file(path, json.dumps(trajectory_to_dict(traj), indent=2) + "\n")


def load_trajectory(name_or_path, num_frames: int | None = None) -> Trajectory:
    """A ReCamMaster preset by name (``"arc_left"``), a trajectory JSON file, or a trajectory
    object; resampled to ``num_frames`` when given (the same path, more or fewer frames)."""
    if isinstance(name_or_path, (OrbitTrajectory, PresetTrajectory, KeyframeTrajectory)):
        traj = name_or_path
    else:
        traj = _load_spec(str(name_or_path))
    if num_frames is not None and traj.num_frames != num_frames:
        traj = traj.resampled(num_frames) if traj.kind == "keyframes" else replace(traj, num_frames=num_frames)
    return traj


def _load_spec(s: str) -> Trajectory:
    if s in RECAMMASTER_PRESETS:
        return PresetTrajectory(s)
    if s == "random" or s.startswith("random:"):  # the official default: FaceCam's random sampler
        seed = s.partition(":")[2]
        if s != "random" and not (seed.isascii() and seed.isdigit()):  # "²" is a digit to str.isdigit
            raise ValueError(f"{short(s)}: write random or random:SEED with SEED a whole number, e.g. random:7")
        return OrbitTrajectory.sample_official(np.random.default_rng(int(seed) if seed else _process_seed()))
    path = Path(s)
    try:
        found = path.is_file()
    except OSError:  # a name longer than the file system allows
        found = False
    if not found:
        raise ValueError(
            f"{short(s)} is neither a trajectory name ({', '.join(RECAMMASTER_PRESETS)}, random, random:SEED) "
            "nor an existing JSON file"
        )
    d = read_json(path, "trajectory file")
    try:
        return trajectory_from_dict(d)
    except ValueError as e:
        raise ValueError(f"trajectory file {path}: {e}") from None


_PROCESS_SEED: list[int] = []


def _process_seed() -> int:
    """The seed of ``random``: drawn once per process, so that every part of one run (a demo's
    sample and studio sets) follows the same path; the run record stores the path itself."""
    if not _PROCESS_SEED:
        _PROCESS_SEED.append(int(np.random.SeedSequence().entropy % 2**32))
    return _PROCESS_SEED[0]


def check_trajectory(
    traj: Trajectory,
    head_points: np.ndarray,
    height: int = HEIGHT,
    width: int = WIDTH,
    min_visible: float = MIN_VISIBLE_LANDMARKS,
) -> CameraPath:
    """The cameras a trajectory actually produces, checked: every camera's azimuth and elevation
    around the head and its field of view within ``spec.LIMITS`` (a preset started near the limit
    can move past it), at least ``min_visible`` of ``head_points`` (N, 3), the head's
    landmarks in the proxy world, in front of the camera and inside the ``height x width`` frame
    (a camera inside or far beside the head gives a blank condition), and spanning at least
    ``spec.MIN_FACE_HEIGHT`` of the frame height (a camera far away, a dot). Returns the CameraPath;
    raises ValueError naming the frame, the value and the limit.
    """
    cams = traj.cameras()
    azimuth, elevation = orbit_angles(cams.centers)
    name = traj.name if isinstance(traj, PresetTrajectory) else traj.kind
    for what, values in (("azimuth", azimuth), ("elevation", elevation), ("hfov", cams.hfov_deg)):
        lo, hi = LIMITS[what]
        bad = np.flatnonzero((values < lo - 1e-6) | (values > hi + 1e-6))
        if len(bad):
            i = bad[np.argmax(np.abs(values[bad]))]
            raise ValueError(
                f"trajectory {name!r} leaves the kit's limits: the camera of frame {i} is at {what} "
                f"{values[i]:.1f} degrees, outside [{lo:g}, {hi:g}] (where the face stays visible); "
                f"start it further from the limit or choose another trajectory"
            )
    uv = cams.project(head_points, height, width)
    inside = (
        np.isfinite(uv).all(-1) & (uv[..., 0] >= 0) & (uv[..., 0] < width) & (uv[..., 1] >= 0) & (uv[..., 1] < height)
    )
    share = inside.mean(1)
    i = int(np.argmin(share))
    if share[i] < min_visible:
        raise ValueError(
            f"trajectory {name!r} does not show the head: in frame {i} only {100 * share[i]:.0f}% of its landmarks "
            f"are in front of the camera and inside the {height}x{width} frame (at least {100 * min_visible:.0f}% "
            f"needed); keep the camera about {PROXY_RADIUS} units from the head and aimed at it"
        )
    v = np.where(inside, uv[..., 1], np.nan)
    span = (np.nanmax(v, 1) - np.nanmin(v, 1)) / height
    i = int(np.argmin(span))
    if span[i] < MIN_FACE_HEIGHT:
        raise ValueError(
            f"trajectory {name!r} shows the head too small: in frame {i} its landmarks span {100 * span[i]:.1f}% "
            f"of the frame height (at least {100 * MIN_FACE_HEIGHT:.0f}% needed); bring the camera closer "
            f"(the official distance is {PROXY_RADIUS} units) or narrow the field of view"
        )
    return cams


def relative_extrinsics(source_R, source_t, R, t, scale: float = 1.0) -> np.ndarray:
    """ReCamMaster-style poses of target cameras relative to the *source* camera, in a scene of metric ``scale``.

    source_R (3, 3), source_t (3,); R (F, 3, 3), t (F, 3) world-to-camera. ``inv(c2w_source) @
    c2w_i`` cropped to 3 x 4, flattened row-major, with the translation multiplied by ``scale``
    (the same pixels filmed in a scene ``scale`` times larger). Returns (F, 12) float64.
    """
    R = np.asarray(R, np.float64)
    Rs = np.concatenate([np.asarray(source_R, np.float64)[None], R])
    ts = np.concatenate([np.asarray(source_t, np.float64)[None], np.asarray(t, np.float64)])
    path = CameraPath(Rs, ts, np.full(len(Rs), 30.0))  # the field of view plays no part
    rel = recammaster_embedding(path, stride=1)[1:].reshape(-1, 3, 4)
    rel[:, :, 3] *= scale
    return rel.reshape(-1, 12)


def recammaster_embedding(cameras: CameraPath, stride: int = 4) -> np.ndarray:
    """ReCamMaster's camera condition: the pose of every ``stride``-th frame relative to the first.

    As the official code computes it: ``rel_i = inv(c2w_0) @ c2w_i`` (camera-to-world matrices,
    OpenCV axes), cropped to 3 x 4 and flattened row-major. Frames 0, 4, ..., 80 of 81 give the
    21 latent frames. Returns (F', 12) float64.
    """
    idx = np.arange(0, len(cameras), stride)
    c2w = np.tile(np.eye(4), (len(idx), 1, 1))
    c2w[:, :3, :3] = np.swapaxes(cameras.R[idx], 1, 2)
    c2w[:, :3, 3] = cameras.centers[idx]
    rel = np.linalg.inv(c2w[0]) @ c2w
    return rel[:, :3, :4].reshape(len(idx), 12)
