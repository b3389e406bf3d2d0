"""The ``evaluate`` job: ``python -m facecam_kit evaluate`` scores generated videos from files.

One video from the flags (``--generated``, ``--source``, ``--reference``, ``--trajectory``) or many
from a manifest: a JSON list of objects with the same keys (``name`` too; paths relative to the
manifest), or with ``studio`` (a capture folder), ``source_camera`` and ``target_camera`` to score
against a studio capture's ground truth (``generated`` omitted: the ground truth itself, which
shows the metrics' floor). Prints the table and writes it with the figure (see
:mod:`facecam_kit.evaluation.report`).

Taught in notebook 09 (learning camera control at mini scale).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from facecam_kit.evaluation.report import EvaluationCase, evaluate, studio_case
from facecam_kit.geometry.trajectory import load_trajectory, trajectory_from_dict
from facecam_kit.outputs import OutputSet
from facecam_kit.userfiles import check_memory, read_json, short
from facecam_kit.video import count_frames, probe_video, read_video

_KEYS = {"name", "generated", "source", "reference", "trajectory", "studio", "source_camera", "target_camera"}
_PATHS = ("generated", "source", "reference", "studio")
FILES = ["evaluation.csv", "evaluation_frames.csv", "evaluation.json", "evaluation.png"]
#: bytes held per pixel of a case while it is scored: its uint8 videos and float copies
_BYTES_PER_PIXEL = 3 * 8


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


def _probe(path, what: str):
    try:
        return probe_video(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None


def entry_name(entry, index: int) -> str:
    """The checks of one manifest entry that read no file (keys and value types), and its name:
    run over every entry before any video is opened, so a duplicate name costs no probe."""
    where = f"manifest entry {index}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object, got {short(entry)}")
    unknown = sorted(set(map(str, entry)) - _KEYS)
    if unknown:
        raise ValueError(f"{where} has unknown keys {short(unknown)}; allowed: {sorted(_KEYS)}")
    for k in (*_PATHS, "name"):
        if entry.get(k) is not None and not isinstance(entry[k], str):
            raise ValueError(f"{where}: {k} must be a path (a string), got {short(entry[k])}")
    if "studio" in entry:
        for k in ("source_camera", "target_camera"):
            if isinstance(entry.get(k), bool) or not isinstance(entry.get(k), int):
                raise ValueError(f"{where}: a studio entry needs {k} as a whole number, got {short(entry.get(k))}")
    elif entry.get("generated") is None:
        raise ValueError(f"{where} has no 'generated' video")
    if entry.get("name"):
        return entry["name"]
    if entry.get("generated"):
        return Path(entry["generated"]).stem
    return f"cam{entry['source_camera']:02d}_to_cam{entry['target_camera']:02d}"


def check_entry(entry: dict, root: Path, index: int) -> None:
    """The cheap checks of one entry that read its files' headers (no frame beyond the first
    decoded; :func:`entry_name`'s first): files present, generated and reference videos of the same
    size and length, the case within the free memory, the trajectory valid and fitting the
    generated video's exact frame count (counted from its packets)."""
    where = f"manifest entry {index}"
    if "studio" in entry and not (root / entry["studio"] / "capture.json").is_file():
        raise FileNotFoundError(f"{where}: studio capture not found: {root / entry['studio']} (no capture.json)")
    infos = {k: _probe(root / entry[k], f"{k} video") for k in ("generated", "source", "reference") if entry.get(k)}
    gen, ref = infos.get("generated"), infos.get("reference")
    if gen is not None and ref is not None:
        if (gen.width, gen.height) != (ref.width, ref.height):
            raise ValueError(
                f"{where}: the reference {ref.path} is {ref.width}x{ref.height} but the generated video "
                f"{gen.path} {gen.width}x{gen.height}; the ground truth must match the generated video"
            )
        if gen.num_frames and ref.num_frames and abs(gen.num_frames - ref.num_frames) > 1:
            raise ValueError(
                f"{where}: the reference {ref.path} has about {ref.num_frames} frames but the generated "
                f"video {gen.path} {gen.num_frames}; the ground truth must have the generated video's frames"
            )
    pixels = sum((i.num_frames or 1) * i.width * i.height for i in infos.values())
    check_memory(_BYTES_PER_PIXEL, pixels, f"{where}", "pixels", "; score shorter or smaller videos")
    traj = entry.get("trajectory")
    if traj is not None:
        traj = _trajectory(traj, root)
        if gen is not None:
            frames = count_frames(gen.path)
            try:
                load_trajectory(traj, frames)  # as scoring will, once the video is decoded
            except ValueError as e:
                raise ValueError(
                    f"{where}: the generated video {gen.path} has {frames} frames, to which its trajectory cannot "
                    f"be fitted ({e}); camera accuracy scores videos of 4k+1 frames"
                ) from None


def _trajectory(traj, root: Path):
    if isinstance(traj, dict):
        return trajectory_from_dict(traj)
    if not isinstance(traj, str):
        raise ValueError(f"a trajectory must be a preset name, a JSON file or an object, got {short(traj)}")
    return load_trajectory(str(root / traj) if (root / traj).is_file() else traj)


def _case(entry: dict, root: Path) -> EvaluationCase:
    path = lambda k: None if entry.get(k) is None else root / entry[k]
    if "studio" in entry:
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
    return EvaluationCase(
        entry.get("name") or gen.stem,
        _video(gen, "generated video"),
        optional["source"],
        optional["reference"],
        None if traj is None else _trajectory(traj, root),
    )


def _entries(opts: EvaluateOptions) -> tuple[list[dict], Path]:
    single = {"generated": opts.generated, "source": opts.source, "reference": opts.reference}
    if opts.manifest is not None:
        if any(v is not None for v in (*single.values(), opts.trajectory)):
            raise ValueError("give either --manifest or --generated (with --source/--reference/--trajectory), not both")
        entries = read_json(opts.manifest, "manifest")
        if not isinstance(entries, list) or not entries:
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
    """Score the videos of ``opts``, print the table and write it with the figure under ``opts.out``.

    Every entry's keys and name are checked first (:func:`entry_name`), then its files' headers
    (:func:`check_entry`, with a progress bar for a long manifest), and ``--out`` too;
    then the videos are decoded one case at a time, and the four files and ``evaluation_run.json``
    move into ``--out`` together (a failure leaves it as it was)."""
    entries, root = _entries(opts)
    outputs = OutputSet(opts.out, "evaluation", FILES)
    names = [entry_name(e, i) for i, e in enumerate(entries)]  # every name before any video is opened
    twice = sorted(n for n, count in Counter(names).items() if count > 1)
    if twice:
        raise ValueError(f"video names must be unique; {short(twice)} come more than once (set 'name')")
    from tqdm.auto import tqdm

    for i, e in enumerate(
        tqdm(entries, desc="checking the videos' headers", disable=not progress or len(entries) < 20)
    ):
        check_entry(e, root, i)
    report = evaluate((_case(e, root) for e in entries), progress=progress)
    print(report.table())
    with outputs as outs:
        report.write(outs.tmp)
        return outs.commit({"job": "evaluate", "videos": names, "summary": report.summary})
