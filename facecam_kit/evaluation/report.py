"""Scoring a set of generated videos: the :func:`evaluate` entry point, its table and its figure.

Each :class:`EvaluationCase` is one generated video with whatever it can be scored against: the
ground-truth target video (PSNR, SSIM), the source video (identity; the person's 3D landmarks for
camera accuracy) and the requested trajectory (camera accuracy). :func:`studio_case` builds one
from a studio capture, where all of them are known. Metric definitions: :mod:`.fidelity`,
:mod:`.identity`, :mod:`.camera_accuracy`. LPIPS is not reported: its network weights cannot be
downloaded here.

Outputs (:meth:`EvaluationReport.write`): ``evaluation.csv`` (one row per video),
``evaluation_frames.csv`` (one row per frame), ``evaluation.json`` (both, the summary and notes;
non-finite numbers as Python writes them: ``Infinity`` for the PSNR of identical frames, ``NaN``
for frames without a face) and ``evaluation.png`` (per-frame curves).

Taught in notebook 09 (learning camera control at mini scale).
"""

from __future__ import annotations

import csv
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from facecam_kit.geometry.camera import CameraPath
from facecam_kit.geometry.trajectory import OrbitTrajectory, PresetTrajectory, load_trajectory

LPIPS_NOTE = "LPIPS not computed: it needs pretrained AlexNet/VGG weights, which cannot be downloaded here"
SSIM_NOTE = "SSIM: scikit-image structural_similarity, Gaussian 11x11 window (sigma 1.5), Wang et al. 2004"
IDENTITY_NOTE = "identity: cosine similarity of dlib ResNet face embeddings (ArcFace stand-in), NaN without a face"
#: Per-frame metrics: column name, figure title.
FRAME_METRICS = {
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "identity": "identity (cosine)",
    "rot_err_deg": "RotErr (deg)",
    "trans_err": "TransErr (rel.)",
    "landmark_px": "landmark distance (px)",
}


@dataclass
class EvaluationCase:
    """One generated video and what it is scored against (every reference is optional).

    generated: (F, H, W, 3) uint8; source: (F', H', W', 3) uint8 input video; reference:
    (F, H, W, 3) uint8 ground-truth target; trajectory: the requested Orbit/Preset trajectory
    (resampled to F frames) or a CameraPath of F cameras; head_poses: (F, 4, 4) head-to-world of a
    moving head (None: still); points3d: (478, 3) the person's 3D landmarks (default: personalised
    from the source, else the generic template); mask: (H, W) or (F, H, W) bool pixels for PSNR.
    """

    name: str
    generated: np.ndarray
    source: np.ndarray | None = None
    reference: np.ndarray | None = None
    trajectory: OrbitTrajectory | PresetTrajectory | CameraPath | None = None
    head_poses: np.ndarray | None = None
    points3d: np.ndarray | None = None
    mask: np.ndarray | None = None

    def __post_init__(self):
        g = np.asarray(self.generated)
        if g.ndim != 4 or g.shape[-1] != 3 or g.dtype != np.uint8:
            raise ValueError(f"{self.name}: generated must be (F, H, W, 3) uint8 frames, got {g.dtype} {g.shape}")
        if self.reference is not None and np.shape(self.reference) != g.shape:
            raise ValueError(
                f"{self.name}: reference has shape {np.shape(self.reference)} but generated {g.shape}; "
                f"the ground truth must have the generated video's frames and size"
            )
        if self.source is not None and (np.ndim(self.source) != 4 or np.shape(self.source)[-1] != 3):
            raise ValueError(f"{self.name}: source must be (F, H, W, 3) uint8 frames, got {np.shape(self.source)}")
        if isinstance(self.trajectory, CameraPath) and len(self.trajectory) != len(g):
            raise ValueError(f"{self.name}: {len(self.trajectory)} requested cameras for {len(g)} generated frames")


def studio_case(capture, source_camera: int, target_camera: int, generated=None, name: str | None = None):
    """An EvaluationCase from a studio capture (a folder or a loaded Capture): the source camera's
    video as input, the target camera's as ground truth, the target camera as the requested
    (static) trajectory, the recorded head motion and the true 3D landmarks.

    generated: (F, S, S, 3) uint8; default: the ground truth itself (it must score perfectly).
    """
    from facecam_kit.data.studio import Capture, load_capture

    cap = capture if isinstance(capture, Capture) else load_capture(capture)
    C, F = cap.videos.shape[:2]
    for label, c in (("source_camera", source_camera), ("target_camera", target_camera)):
        if not 0 <= c < C:
            raise ValueError(f"{label} = {c}, but the capture has cameras 0..{C - 1}")
    head0 = np.linalg.inv(cap.head_pose[0])  # landmarks in the head's own frame
    points3d = cap.landmarks3d[0] @ head0[:3, :3].T + head0[:3, 3]
    hfov = np.rad2deg(2 * np.arctan(cap.K[target_camera, 0, 2] / cap.K[target_camera, 0, 0]))
    cameras = CameraPath(
        np.repeat(cap.R[None, target_camera], F, 0), np.repeat(cap.t[None, target_camera], F, 0), np.full(F, hfov)
    )
    reference = cap.videos[target_camera]
    return EvaluationCase(
        name or f"cam{source_camera:02d}_to_cam{target_camera:02d}",
        reference if generated is None else np.asarray(generated),
        cap.videos[source_camera],
        reference,
        cameras,
        cap.head_pose,
        points3d,
    )


def _nanmean(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).any() and not np.isinf(x).any():
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(x))


@dataclass
class EvaluationReport:
    """Per-frame rows, per-video rows, a summary across videos and notes on what is not measured."""

    frames: list[dict] = field(default_factory=list)
    videos: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=lambda: [SSIM_NOTE, IDENTITY_NOTE, LPIPS_NOTE])

    def table(self) -> str:
        """The per-video table and the summary as aligned text."""
        cols = [
            "video",
            *FRAME_METRICS,
            "face_detected",
            "identity_detected",
            "motion",
            "motion_correct",
        ]
        fmt = lambda v: "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)
        rows = [[fmt(v.get(c)) for c in cols] for v in self.videos]
        mean = [fmt(self.summary.get(c)) for c in cols[1:-2]]
        rows.append(["MEAN", *mean, "", fmt(self.summary.get("motion_accuracy"))])
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
        line = lambda r: "  ".join(s.rjust(w) for s, w in zip(r, widths))
        return "\n".join([line(cols), *map(line, rows), *(f"note: {n}" for n in self.notes)])

    def figure(self):
        """Per-frame curves of every metric, one line per video (a matplotlib Figure)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(13, 7), layout="constrained")
        axes = fig.subplots(2, 3).ravel()
        names = list(dict.fromkeys(r["video"] for r in self.frames))
        for ax, (key, title) in zip(axes, FRAME_METRICS.items()):
            infinite = []
            for n in names:
                rows = [r for r in self.frames if r["video"] == n]
                y = np.array([r.get(key, np.nan) for r in rows], dtype=np.float64)
                if np.isfinite(y).any():
                    ax.plot([r["frame"] for r in rows], y, marker=".", label=n)
                elif np.isinf(y).any():
                    infinite.append(n)
            if infinite:  # identical frames: PSNR is infinite, nothing to plot
                ax.text(0.5, 0.1, "inf (identical): " + ", ".join(infinite), transform=ax.transAxes, ha="center")
            elif not ax.get_lines():
                ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center", color="grey")
            ax.set_title(title)
            ax.set_xlabel("frame")
            ax.grid(alpha=0.3)
        drawn = [ax for ax in axes if ax.get_lines()]
        if drawn and len(names) <= 10:
            drawn[0].legend(fontsize=7)
        fig.suptitle(f"Per-frame scores of {len(names)} video(s); LPIPS not computed (no weights offline)")
        return fig

    def write(self, out_dir) -> list[Path]:
        """Write evaluation.csv, evaluation_frames.csv, evaluation.json and evaluation.png."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for fname, rows in (("evaluation.csv", self.videos), ("evaluation_frames.csv", self.frames)):
            keys = list(dict.fromkeys(k for r in rows for k in r))
            with open(out / fname, "w", newline="") as f:
                w = csv.DictWriter(f, keys)
                w.writeheader()
                w.writerows(rows)
            written.append(out / fname)
        doc = {"summary": self.summary, "videos": self.videos, "frames": self.frames, "notes": self.notes}
        (out / "evaluation.json").write_text(json.dumps(doc, indent=1) + "\n")
        written.append(out / "evaluation.json")
        self.figure().savefig(out / "evaluation.png", dpi=90)
        written.append(out / "evaluation.png")
        return written


def _score_case(case: EvaluationCase, progress: bool) -> tuple[dict, dict]:
    """Per-frame arrays and per-video values of one case."""
    from facecam_kit.evaluation.camera_accuracy import camera_accuracy
    from facecam_kit.evaluation.fidelity import psnr_per_frame, ssim_per_frame
    from facecam_kit.evaluation.identity import identity_similarity
    from facecam_kit.face.landmarks import detect_landmarks_video

    gen = np.asarray(case.generated)
    F, H, W = gen.shape[:3]
    per_frame, video = {}, {"video": case.name, "frames": F}
    if case.reference is not None:
        per_frame["psnr"] = psnr_per_frame(gen, case.reference, case.mask)
        per_frame["ssim"] = ssim_per_frame(gen, case.reference)
    if case.source is not None:
        per_frame["identity"] = identity_similarity(case.source, gen, progress)
        video["identity_detected"] = float(np.isfinite(per_frame["identity"]).mean())
    if case.trajectory is not None:
        traj = case.trajectory
        cameras = traj if isinstance(traj, CameraPath) else load_trajectory(traj, F).cameras()
        points3d = case.points3d
        if points3d is None:
            points3d = _person_landmarks(case.source, progress)
        lm = detect_landmarks_video(gen, f"generated video {case.name}", progress, allow_missing=True)
        acc = camera_accuracy(
            lm,
            cameras,
            points3d,
            H,
            W,
            case.head_poses,
            preset=traj if isinstance(traj, PresetTrajectory) else None,
        )
        per_frame.update({k: acc[k] for k in ("rot_err_deg", "trans_err", "landmark_px")})
        video.update(face_detected=float(acc["detected"].mean()), motion=acc["motion"])
        video["motion_correct"] = acc["motion_correct"]
    for k in FRAME_METRICS:
        if k in per_frame:
            video[k] = _nanmean(per_frame[k])
    return per_frame, video


def _person_landmarks(source, progress: bool) -> np.ndarray:
    """The person's 3D landmarks from the source video (the generic template without one)."""
    from facecam_kit.face.landmarks import detect_landmarks_video
    from facecam_kit.face.template import load_template
    from facecam_kit.proxy.head import personalised_landmarks

    if source is None:
        return load_template()
    lm = detect_landmarks_video(source, "the source video", progress, allow_missing=True)
    found = np.isfinite(lm).all((1, 2))
    if not found.any():
        raise ValueError("MediaPipe found no face in any source frame: cannot fit the person's 3D landmarks")
    return personalised_landmarks(lm[found])


def evaluate(cases, out_dir=None, progress: bool = True) -> EvaluationReport:
    """Score generated videos: fidelity, identity and camera accuracy (whatever each case allows).

    cases: EvaluationCase objects (or one), any iterable: a generator scores one case in memory at
    a time (the ``evaluate`` job's streaming). With ``out_dir``, writes the table, the per-frame table,
    the JSON and the figure there. Returns the EvaluationReport (``print(report.table())``).
    """
    cases = [cases] if isinstance(cases, EvaluationCase) else cases
    total = len(cases) if hasattr(cases, "__len__") else None
    report, names = EvaluationReport(), set()
    for case in tqdm(cases, desc="evaluate", total=total, disable=not progress or total == 1):
        if case.name in names:
            raise ValueError(f"video names must be unique: {case.name!r} comes twice")
        names.add(case.name)
        per_frame, video = _score_case(case, progress)
        report.videos.append(video)
        for f in range(video["frames"]):
            report.frames.append({"video": case.name, "frame": f, **{k: float(v[f]) for k, v in per_frame.items()}})
    measured = [k for k in FRAME_METRICS if any(k in v for v in report.videos)]
    report.summary = {k: _nanmean([v.get(k, np.nan) for v in report.videos]) for k in measured}
    correct = [v["motion_correct"] for v in report.videos if v.get("motion_correct") is not None]
    report.summary["motion_accuracy"] = float(np.mean(correct)) if correct else None
    if not names:
        raise ValueError("nothing to evaluate: give at least one EvaluationCase")
    report.summary["videos"] = len(names)
    if out_dir is not None:
        report.write(out_dir)
    return report
