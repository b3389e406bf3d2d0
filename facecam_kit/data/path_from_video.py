"""A camera path taken from a reference portrait clip: the motion of any clip, applied to yours.

FaceCam's argument run backwards: a face's landmarks fix the camera relative to the head, at the
head's scale. So the camera path of a reference clip needs no model and no scale to guess:

1. **Landmarks** (MediaPipe) on every frame used (at most ``MAX_USED_PER_FRAME`` per output
   frame, evenly spaced over the clip). With several faces the largest face of the first frame
   is followed (the face nearest the one before, frame to frame) and the frames are reported.
2. **Cameras by PnP** of the 468 mesh points against the head's 3D landmarks (the generic
   head's, or with ``head="own"`` the reference person's shape, :func:`personalised_landmarks`)
   with intrinsics from ``hfov`` across the frame's width: face-centric cameras, head units.
3. **Gaps filled**: frames without a face take the pose interpolated from their neighbours
   (rotations by slerp, centres linearly; held at the ends); more than ``MAX_NO_FACE_SHARE`` of
   them is refused, as ``render`` refuses such a source.
4. **Smoothed** by a centred Gaussian of ``smooth`` seconds (rotation vectors about the mean
   rotation, and camera centres): a centred filter adds no lag, it spreads the start and end of
   a move (a step's 10-90% rise takes 2.56 sigma).
5. **Resampled** to ``num_frames``: the whole clip, start to end, becomes the path.
6. **Re-anchored**: ``anchor="first"`` (the default) makes the motion relative to the first
   frame's camera and starts it at the kit's start camera (the frontal camera the source video
   is taken to be filmed from), translations in units of the first camera's distance to the
   head: an orbit about the reference head stays an orbit about yours, a dolly to half the
   distance halves it. ``anchor="world"`` keeps the reference's own viewpoints around its head.

What it cannot tell, and how the kit handles it (``docs/cameras.md`` has the measurements):
the reference lens (``hfov``, a guess: re-anchoring cancels most of a wrong one), head motion
against camera motion (a head turning reads as an orbit: that is the relative motion FaceCam
conditions on), and a zoom against a dolly (only perspective separates them: a zoom reads as a
dolly, the path keeps the start camera's lens).

Taught in notebook 03 (trajectories from a reference clip).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation, Slerp
from tqdm.auto import tqdm

from facecam_kit.face.landmarks import LandmarkDetector
from facecam_kit.face.template import load_template
from facecam_kit.face.topology import NOSE_TIP, NUM_LANDMARKS
from facecam_kit.geometry.camera import CameraPath, camera_centers, intrinsics_from_fov
from facecam_kit.geometry.pnp import solve_pnp
from facecam_kit.geometry.trajectory import (
    KeyframeTrajectory,
    OrbitTrajectory,
    Trajectory,
    keyframes_from_cameras,
    load_trajectory,
)
from facecam_kit.spec import MAX_NO_FACE_SHARE, NUM_FRAMES, check_num_frames
from facecam_kit.video import iter_video

MESH_POINTS = 468  # MediaPipe's face mesh; the 10 iris points after it follow the gaze
#: ``render --trajectory video:REF.mp4`` and ``trajectory ... video:REF.mp4``
VIDEO_PREFIX = "video:"
#: the reference's lens across the frame's width when nobody says (a phone's main camera across a
#: portrait frame, and the kit's start camera)
DEFAULT_HFOV = 40.0
HFOV_RANGE = (5.0, 150.0)
#: centred Gaussian sigma, seconds of the reference clip
DEFAULT_SMOOTH_S = 0.1
MAX_SMOOTH_S = 10.0
#: frames looked at, at most, per output frame (more only average jitter the smoothing removes)
MAX_USED_PER_FRAME = 4
#: the longest reference clip read (11 minutes at 30 fps): checked from the header before decoding,
#: or while decoding when the header does not say
MAX_REFERENCE_FRAMES = 20_000
#: a face whose landmarks span fewer pixels (median height) gives poses off by degrees
MIN_FACE_PX = 48
ANCHORS = ("first", "world")
HEADS = ("generic", "own")


def solve_cameras(landmarks, points3d, K) -> tuple[np.ndarray, np.ndarray]:
    """Face-centric camera of every frame by PnP of the mesh points.

    landmarks: (F, 478, 2|3) pixels, NaN rows where no face was found; points3d: (478, 3) the
    person's 3D landmarks; K: (3, 3) or (F, 3, 3). Returns world-to-camera R (F, 3, 3), t (F, 3)
    with the head centre at the origin, NaN for missed frames and for frames PnP cannot solve.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    points3d = np.asarray(points3d, dtype=np.float64)
    if lm.ndim != 3 or lm.shape[1] != NUM_LANDMARKS or lm.shape[2] not in (2, 3):
        raise ValueError(f"landmarks must have shape (F, {NUM_LANDMARKS}, 2|3), got {lm.shape}")
    if points3d.shape != (NUM_LANDMARKS, 3):
        raise ValueError(f"points3d must have shape ({NUM_LANDMARKS}, 3), got {points3d.shape}")
    K = np.broadcast_to(np.asarray(K, dtype=np.float64), (len(lm), 3, 3))
    R, t = np.full((len(lm), 3, 3), np.nan), np.full((len(lm), 3), np.nan)
    for f in range(len(lm)):
        uv = lm[f, :MESH_POINTS, :2]
        if np.isfinite(uv).all():
            try:
                R[f], t[f] = solve_pnp(points3d[:MESH_POINTS], uv, K[f])
            except RuntimeError:  # degenerate landmarks (all on a line): no pose, as without a face
                pass
    return R, t


@dataclass
class ReferenceLandmarks:
    """What :func:`track_face` found: ``landmarks`` (T, 478, 3) pixels of the followed face (NaN rows:
    no face), ``frames`` (T,) their indices in the clip, the ``decoded`` frames of the clip, its
    ``fps``, ``width`` and ``height``, and the used frames (positions in ``frames``) with
    ``no_face`` or ``several_faces``."""

    path: str
    landmarks: np.ndarray
    frames: np.ndarray
    decoded: int
    fps: float
    width: int
    height: int
    no_face: list[int] = field(default_factory=list)
    several_faces: list[int] = field(default_factory=list)

    def warnings(self) -> list[str]:
        out = []
        n = len(self.frames)
        if self.no_face:
            out.append(f"no face in {len(self.no_face)} of {n} frames of {self.path}: their cameras are interpolated")
        if self.several_faces:
            out.append(
                f"several faces in {len(self.several_faces)} of {n} frames of {self.path}: the largest face of the "
                "first frame is followed"
            )
        return out


def _used_frames(total: int | None, num_frames: int) -> int:
    """The stride that keeps at most ``MAX_USED_PER_FRAME * num_frames`` of ``total`` frames."""
    return 1 if total is None else max(1, math.ceil(total / (MAX_USED_PER_FRAME * num_frames)))


def track_face(path, num_frames: int = NUM_FRAMES, progress: bool = True) -> ReferenceLandmarks:
    """Landmarks of the followed face on the frames of ``path`` a ``num_frames`` path uses.

    Frames are decoded one at a time. Raises ValueError naming the clip when it has fewer than two
    frames (a still image), no face at all, or more than ``MAX_REFERENCE_FRAMES``.
    """
    info, frames = iter_video(path)
    decoded = 0
    too_long = (
        f"reference clip {path} has more than {MAX_REFERENCE_FRAMES:,} frames: trim it to the move to copy "
        "(ffmpeg -ss START -t SECONDS)"
    )
    if info.num_frames is not None and info.num_frames > MAX_REFERENCE_FRAMES:
        frames.close()
        raise ValueError(too_long)
    stride = _used_frames(info.num_frames, num_frames)
    landmarks, used, no_face, several = [], [], [], []
    previous = None
    expected = None if info.num_frames is None else -(-info.num_frames // stride)
    bar = tqdm(total=expected, desc="reference landmarks", disable=not progress)
    try:
        with LandmarkDetector(max_faces=4) as det:
            for i, frame in enumerate(frames):
                if i >= MAX_REFERENCE_FRAMES:
                    raise ValueError(too_long)
                if i % stride:
                    continue
                faces = det.detect_all(frame, f"frame {i} of {path}")
                if len(faces) > 1:
                    several.append(len(used))
                if faces:
                    # follow one face: the largest at first, then the one nearest the face before
                    face = faces[0] if previous is None else min(faces, key=lambda f: _nose_distance(f, previous))
                    previous = face
                else:
                    face = np.full((NUM_LANDMARKS, 3), np.nan)
                    no_face.append(len(used))
                landmarks.append(face)
                used.append(i)
                bar.update()
            decoded = i + 1
    finally:
        frames.close()
        bar.close()
    if len(used) < 2:
        raise ValueError(
            f"reference clip {path} has {len(used)} frame{'s' if len(used) != 1 else ''} (a still image?): a camera "
            "path needs a clip whose camera moves"
        )
    if len(no_face) == len(used):
        raise ValueError(
            f"no face in any frame of reference clip {path}: the camera path is read from a face's landmarks; "
            "choose a clip showing one face, not turned further than profile"
        )
    return ReferenceLandmarks(
        str(path), np.stack(landmarks), np.array(used), decoded, info.fps, info.width, info.height, no_face, several
    )


def _nose_distance(face: np.ndarray, previous: np.ndarray) -> float:
    return float(np.linalg.norm(face[NOSE_TIP, :2] - previous[NOSE_TIP, :2]))


def face_height_px(landmarks) -> np.ndarray:
    """The vertical span of each frame's mesh points, (T,) pixels (NaN without a face)."""
    lm = np.asarray(landmarks, dtype=np.float64)[:, :MESH_POINTS, 1]
    found = np.isfinite(lm).all(1)
    out = np.full(len(lm), np.nan)
    out[found] = np.ptp(lm[found], axis=1)
    return out


def fill_gaps(R, centres) -> tuple[np.ndarray, np.ndarray]:
    """Cameras for the frames without one (NaN): rotations by slerp and centres linearly between the
    nearest frames with a camera, held before the first and after the last. R (T, 3, 3), centres
    (T, 3); returns new arrays."""
    R, centres = np.array(R, dtype=np.float64), np.array(centres, dtype=np.float64)
    known = np.flatnonzero(np.isfinite(R).all((1, 2)))
    missing = np.flatnonzero(~np.isfinite(R).all((1, 2)))
    if len(known) == 0:
        raise ValueError("no frame has a camera to fill the others from")
    if len(missing) == 0:
        return R, centres
    x = np.clip(missing, known[0], known[-1]).astype(np.float64)
    if len(known) == 1:
        R[missing], centres[missing] = R[known[0]], centres[known[0]]
        return R, centres
    R[missing] = Slerp(known.astype(np.float64), Rotation.from_matrix(R[known]))(x).as_matrix()
    for k in range(3):
        centres[missing, k] = np.interp(x, known, centres[known, k])
    return R, centres


def smooth_cameras(R, centres, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """A centred Gaussian filter of ``sigma`` frames on the rotations (as rotation vectors about their
    mean, so paths up to 180 degrees from it) and camera centres (T, 3). No lag: the filter is
    symmetric, and the ends are padded by point reflection, so a move at constant speed keeps its
    speed to the last frame (repeating the end frames would slow it there); a step's 10-90% rise
    spreads over 2.56 sigma frames."""
    if sigma <= 0:
        return np.asarray(R, np.float64), np.asarray(centres, np.float64)
    from scipy.ndimage import gaussian_filter1d

    rot = Rotation.from_matrix(R)
    mean = rot.mean()
    values = np.concatenate([(mean.inv() * rot).as_rotvec(), np.asarray(centres, np.float64)], 1)
    pad = min(int(4 * sigma + 0.5), len(values) - 1)
    padded = np.pad(values, ((pad, pad), (0, 0)), mode="reflect", reflect_type="odd")
    out = gaussian_filter1d(padded, sigma, axis=0, mode="nearest")[pad : pad + len(values)]
    return (mean * Rotation.from_rotvec(out[:, :3])).as_matrix(), out[:, 3:]


def resample_cameras(R, centres, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The path of T cameras (R (T, 3, 3), centres (T, 3)) over ``num_frames`` frames at even times,
    first to last: slerp and linear interpolation."""
    T = len(R)
    x = np.linspace(0.0, T - 1.0, num_frames)
    out_R = Slerp(np.arange(T, dtype=np.float64), Rotation.from_matrix(R))(x).as_matrix()
    out_c = np.stack([np.interp(x, np.arange(T), centres[:, k]) for k in range(3)], 1)
    return out_R, out_c


def reanchor(cameras: CameraPath, start: CameraPath) -> CameraPath:
    """The motion of ``cameras`` (head at the origin) relative to their first camera, started at
    ``start``'s first camera, translations scaled by the ratio of the two first cameras' distances
    to the head centre, through ``start``'s lens."""
    R, centres = cameras.R, cameras.centers
    s = np.linalg.norm(start.centers[0]) / np.linalg.norm(centres[0])
    # camera-to-world of frame i in the first camera's frame: rotation R0 R_i^T, centre R0 (c_i - c0)
    R_rel = R[0] @ np.swapaxes(R, 1, 2)
    c_rel = np.einsum("ij,fj->fi", R[0], centres - centres[0])
    R_s, c_s = start.R[0], start.centers[0]
    return CameraPath.from_centres(np.swapaxes(R_s.T @ R_rel, 1, 2), c_s + s * c_rel @ R_s, start.hfov_deg[0])


@dataclass
class ClonedPath:
    """A camera path cloned from a reference clip (:func:`clone_camera_path`).

    ``cameras``: the path (num_frames) in the proxy world, re-anchored as asked; ``reference``: the
    landmarks and what was found; ``hfov``, ``smooth_s``, ``head``, ``anchor``: how it was made;
    ``face_px``: the followed face's median height in pixels; ``seconds``: the time it took."""

    cameras: CameraPath
    reference: ReferenceLandmarks
    hfov: float
    smooth_s: float
    head: str
    anchor: str
    face_px: float
    seconds: float = 0.0

    def trajectory(self) -> KeyframeTrajectory:
        """The path as a kit trajectory (a keyframe a frame, linear): what ``render`` reads."""
        return keyframes_from_cameras(self.cameras)

    def summary(self) -> list[str]:
        ref = self.reference
        return [
            f"cloned the camera of {ref.path}: {len(ref.frames)} frames used of its {ref.decoded} "
            f"({ref.fps:g} fps, {ref.width}x{ref.height}), face {self.face_px:.0f} px tall, lens {self.hfov:g} degrees "
            f"across (--hfov), {self.head} head, smoothed over {self.smooth_s:g} s, anchor {self.anchor}: "
            f"{len(self.cameras)} frames in {self.seconds:.1f} s",
            *ref.warnings(),
        ]


def check_clone_options(hfov, smooth_s, num_frames, head: str = "generic", anchor: str = "first") -> None:
    """ValueError naming the option unless every number is finite and in range."""
    lo, hi = HFOV_RANGE
    if not (isinstance(hfov, (int, float)) and math.isfinite(hfov) and lo <= hfov <= hi):
        raise ValueError(
            f"--hfov must be the reference camera's field of view across the frame's width, in degrees within "
            f"[{lo:g}, {hi:g}], got {hfov!r} (a phone's main camera across a portrait frame: about {DEFAULT_HFOV:g})"
        )
    if not (isinstance(smooth_s, (int, float)) and math.isfinite(smooth_s) and 0 <= smooth_s <= MAX_SMOOTH_S):
        raise ValueError(
            f"--smooth must be a Gaussian's sigma in seconds within [0, {MAX_SMOOTH_S:g}] (0: none), got {smooth_s!r}"
        )
    check_num_frames(num_frames, "--frames")
    if head not in HEADS:
        raise ValueError(f"--head must be one of {HEADS}, got {head!r}")
    if anchor not in ANCHORS:
        raise ValueError(f"--anchor must be one of {ANCHORS}, got {anchor!r}")


def clone_camera_path(
    path,
    num_frames: int = NUM_FRAMES,
    hfov: float = DEFAULT_HFOV,
    smooth_s: float = DEFAULT_SMOOTH_S,
    head: str = "generic",
    anchor: str = "first",
    start: CameraPath | None = None,
    progress: bool = True,
) -> ClonedPath:
    """The camera path of the reference clip at ``path`` (steps in the module docstring).

    hfov: the reference lens across the frame's width (degrees); smooth_s: the Gaussian's sigma in
    seconds of the clip (0: none); head: ``"generic"`` (the kit's head) or ``"own"`` (the reference
    person's shape); anchor: ``"first"`` or ``"world"``; start: the start camera for ``"first"``
    (default the kit's: frontal, 2.7 from the head, hfov 40), whose lens the path keeps (``"world"``: ``hfov``).
    Raises ValueError naming the clip or the option.
    """
    t0 = time.perf_counter()
    check_clone_options(hfov, smooth_s, num_frames, head, anchor)
    start = OrbitTrajectory(num_frames=1).cameras() if start is None else start
    ref = track_face(path, num_frames, progress)
    missing = len(ref.no_face) / len(ref.frames)
    if missing > MAX_NO_FACE_SHARE:
        raise ValueError(
            f"no face in {len(ref.no_face)} of the {len(ref.frames)} frames used of reference clip {path} "
            f"({100 * missing:.0f}%, at most {100 * MAX_NO_FACE_SHARE:.0f}% can be interpolated): choose a clip where "
            "the face stays in view, or trim it"
        )
    face_px = float(np.nanmedian(face_height_px(ref.landmarks)))
    if face_px < MIN_FACE_PX:
        raise ValueError(
            f"the face in reference clip {path} is {face_px:.0f} px tall (median over its frames), at least "
            f"{MIN_FACE_PX} needed for a pose within degrees: use a clip where the face is larger, or crop it"
        )
    if head == "own":
        from facecam_kit.proxy.head import personalised_landmarks

        points = personalised_landmarks(ref.landmarks[np.isfinite(ref.landmarks).all((1, 2))])
    else:
        points = load_template()
    K = intrinsics_from_fov(hfov, ref.width, ref.height)
    R, t = solve_cameras(ref.landmarks, points, K)
    R, c = fill_gaps(R, camera_centers(R, t))
    step_s = (ref.frames[1] - ref.frames[0]) / ref.fps  # seconds between used frames
    R, c = smooth_cameras(R, c, smooth_s / step_s)
    cams = CameraPath.from_centres(*resample_cameras(R, c, num_frames), hfov)  # the reference's viewpoints, its lens
    if anchor == "first":
        cams = reanchor(cams, start)
    return ClonedPath(cams, ref, float(hfov), float(smooth_s), head, anchor, face_px, time.perf_counter() - t0)


def is_clip_spec(spec) -> bool:
    """Whether a trajectory argument names a reference clip (``video:REF.mp4``)."""
    return isinstance(spec, str) and spec.startswith(VIDEO_PREFIX)


def load_trajectory_or_clip(spec, num_frames: int | None = None, progress: bool = True) -> Trajectory:
    """:func:`~facecam_kit.geometry.trajectory.load_trajectory`, or for ``video:REF.mp4`` the camera of
    that clip cloned with the defaults (:func:`clone_camera_path`) as a kit trajectory."""
    if not is_clip_spec(spec):
        return load_trajectory(spec, num_frames)
    ref = spec[len(VIDEO_PREFIX) :]
    if not ref:
        raise ValueError("video: needs a clip after it, e.g. --trajectory video:reference.mp4")
    return clone_camera_path(ref, num_frames or NUM_FRAMES, progress=progress).trajectory()
