"""The ``evaluate`` job: ``python -m facecam_kit evaluate`` scores generated videos from files.

One video from the flags (``--generated``, ``--source``, ``--reference``, ``--trajectory``) or many
from a manifest: a JSON list of objects with the same keys (``name`` too; paths relative to the
manifest), or with ``studio`` (a capture folder), ``source_camera`` and ``target_camera`` to score
against a studio capture's ground truth (``generated`` omitted: the ground truth itself, which
shows the metrics' floor). Prints the table and writes it with the figure (see
:mod:`facecam_kit.evaluation.report`).

Taught in notebook 08 (learning camera control at mini scale).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from facecam_kit.evaluation.report import EvaluationCase, evaluate, studio_case
from facecam_kit.geometry.trajectory import load_trajectory, trajectory_from_dict
from facecam_kit.video import read_video

_KEYS = {"name", "generated", "source", "reference", "trajectory", "studio", "source_camera", "target_camera"}


def _opt(help_: str, default=None):
    return field(default=default, metadata={"help": help_})


@dataclass
class EvaluateOptions:
    """Options of the ``evaluate`` job (and of ``python -m facecam_kit evaluate``)."""

    out: Path = _opt("output folder for evaluation.csv/.json/.png", Path("outputs/evaluation"))
    generated: Path | None = _opt("a generated video to score")
    source: Path | None = _opt("the input video it was made from (identity; the person's 3D landmarks)")
    reference: Path | None = _opt("the ground-truth target video (PSNR, SSIM)")
    trajectory: str | None = _opt("the requested trajectory: a ReCamMaster preset name or a trajectory JSON file")
    manifest: Path | None = _opt(
        "a JSON list of videos to score together: objects with generated, source, reference, trajectory, "
        "name; or studio, source_camera, target_camera (paths relative to the manifest)"
    )
    name: str | None = _opt("the video's name in the table (default: the generated file's name)")


def _video(path, what: str):
    try:
        return read_video(path)[0]
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None


def _case(entry: dict, root: Path) -> EvaluationCase:
    unknown = set(entry) - _KEYS
    if unknown:
        raise ValueError(f"manifest entry {entry} has unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    path = lambda k: None if entry.get(k) is None else root / entry[k]
    if "studio" in entry:
        if "source_camera" not in entry or "target_camera" not in entry:
            raise ValueError(f"studio entry {entry} needs source_camera and target_camera")
        gen = path("generated")
        return studio_case(
            path("studio"),
            int(entry["source_camera"]),
            int(entry["target_camera"]),
            None if gen is None else _video(gen, "generated video"),
            entry.get("name"),
        )
    if entry.get("generated") is None:
        raise ValueError(f"manifest entry {entry} has no 'generated' video")
    gen = path("generated")
    optional = {k: None if path(k) is None else _video(path(k), f"{k} video") for k in ("source", "reference")}
    traj = entry.get("trajectory")
    if traj is not None and not isinstance(traj, dict):
        traj = str(root / traj) if (root / str(traj)).is_file() else traj
    if isinstance(traj, dict):
        traj = trajectory_from_dict(traj)
    return EvaluationCase(
        entry.get("name") or gen.stem,
        _video(gen, "generated video"),
        optional["source"],
        optional["reference"],
        None if traj is None else load_trajectory(traj),
    )


def _entries(opts: EvaluateOptions) -> tuple[list[dict], Path]:
    single = {"generated": opts.generated, "source": opts.source, "reference": opts.reference}
    if opts.manifest is not None:
        if any(v is not None for v in (*single.values(), opts.trajectory)):
            raise ValueError("give either --manifest or --generated (with --source/--reference/--trajectory), not both")
        try:
            entries = json.loads(Path(opts.manifest).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"manifest not found: {opts.manifest}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"manifest {opts.manifest} is not valid JSON: {e}") from None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries) or not entries:
            raise ValueError(f"manifest {opts.manifest} must be a non-empty JSON list of objects")
        return entries, Path(opts.manifest).parent
    if opts.generated is None:
        raise ValueError("nothing to evaluate: give --generated VIDEO (or --manifest FILE)")
    if opts.source is None and opts.reference is None and opts.trajectory is None:
        raise ValueError("give at least one of --source, --reference or --trajectory to score --generated against")
    entry = {k: str(v) for k, v in single.items() if v is not None}
    if opts.trajectory is not None:
        entry["trajectory"] = opts.trajectory
    return [{**entry, "name": opts.name}], Path.cwd()


def run_evaluate(opts: EvaluateOptions, progress: bool = True) -> list[Path]:
    """Score the videos of ``opts``, print the table and write it with the figure under ``opts.out``."""
    entries, root = _entries(opts)
    cases = [_case(e, root) for e in entries]  # every file read and checked before scoring
    report = evaluate(cases, progress=progress)
    print(report.table())
    return report.write(opts.out)
