"""The kit's jobs: ``render`` (FaceCam on a video along a trajectory) and ``demo`` (on the sample).

A job checks every input before any heavy work (:func:`check_render`), then writes its files as a
set (:class:`facecam_kit.outputs.OutputSet`): into a hidden folder inside ``--out``, moved in
together at the end with ``<name>_run.json`` (inputs, trajectory, seed, versions, timings, files
with their sizes, warnings), replacing only what the previous record lists. A failed or
interrupted run leaves ``--out`` as it was.

The Generate button of notebook 06 calls :func:`generate_video`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path

import numpy as np

from facecam_kit.data.path_from_video import is_clip_spec, load_trajectory_or_clip
from facecam_kit.geometry.trajectory import check_trajectory, load_trajectory, trajectory_to_dict
from facecam_kit.outputs import OutputSet
from facecam_kit.spec import (
    GUIDANCE_SCALE,
    HEIGHT,
    MAX_MISSING_KEYS_SHARE,
    MAX_NO_FACE_SHARE,
    NUM_FRAMES,
    NUM_STEPS,
    WIDTH,
    check_frame_size,
    check_num_frames,
)
from facecam_kit.userfiles import check_memory
from facecam_kit.video import probe_video, write_video

RANDOM_WEIGHTS_LABEL = "RANDOM WEIGHTS"
INVALID_LABEL = "INVALID OUTPUT"
CONDITIONS = ("analytic", "proxy")
_TRAJECTORY_HELP = (
    "a ReCamMaster preset name (pan_left, arc_right, ...), random, random:SEED, a trajectory JSON file, or "
    "video:REF.mp4 (the camera motion of a reference portrait clip; trajectory from-video for its options)"
)
_WEIGHTS_HELP = (
    "local weights: a saved FaceCamPipeline, or a folder with Wan2.2-I2V-A14B-Diffusers/, "
    "facecam_high_noise/ and facecam_low_noise/"
)
_ALLOW_KEYS_HELP = (  # argparse formats help with %
    f"run even when more than {MAX_MISSING_KEYS_SHARE:.0%}% of an expert's keys are missing from its checkpoint "
    "(the output is labelled)"
)


def _opt(help_: str, default=MISSING, **meta):
    return field(default=default, metadata={"help": help_, **meta})


@dataclass
class RenderOptions:
    """Options of the ``render`` job (and of ``python -m facecam_kit render``)."""

    video: Path = _opt("the source portrait video")
    trajectory: str = _opt(_TRAJECTORY_HELP)
    out: Path = _opt("output folder")
    weights: Path | None = _opt(_WEIGHTS_HELP, None)
    name: str | None = _opt("output name (default: the video's file name)", None)
    frames: int = _opt("frames (4k+1); official", NUM_FRAMES)
    height: int = _opt("frame height, a multiple of 16; official", HEIGHT)
    width: int = _opt("frame width, a multiple of 16; official", WIDTH)
    steps: int = _opt("denoising steps; official", NUM_STEPS)
    guidance: float = _opt("classifier-free guidance scale; official", GUIDANCE_SCALE)
    seed: int = _opt("seed of the initial noise", 0)
    condition: str = _opt(
        "analytic: project the generic head's landmarks (fast); proxy: the official path, "
        "render the proxy head and run MediaPipe on every frame",
        "analytic",
        choices=CONDITIONS,
    )
    low_vram: bool = _opt("model CPU offload and VAE tiling (GPUs under ~48 GB)", False)
    allow_missing_keys: bool = _opt(_ALLOW_KEYS_HELP, False)
    allow_missing_faces: bool = _opt(
        f"run even when the face is missing from more than {MAX_NO_FACE_SHARE:.0%}% of the frames used", False
    )


@dataclass
class DemoOptions:
    """Options of the ``demo`` job: ``render`` on the bundled sample clip, plus figures."""

    out: Path = _opt("output folder", Path("outputs/demo"))
    trajectory: str = _opt(_TRAJECTORY_HELP, "arc_left")
    weights: Path | None = _opt(_WEIGHTS_HELP, None)
    frames: int = _opt("frames to generate (4k+1)", NUM_FRAMES)
    allow_missing_keys: bool = _opt(_ALLOW_KEYS_HELP, False)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("facecam-kit", "numpy", "torch", "diffusers", "mediapipe", "imageio-ffmpeg"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _warn(warnings: list[str], message: str) -> None:
    warnings.append(message)
    print(f"warning: {message}", file=sys.stderr)


@dataclass
class RenderPlan:
    """A checked ``render``: its options, name, trajectory and (with weights) the weights report."""

    opts: RenderOptions
    name: str
    trajectory: object
    weights: object = None
    #: the output set, checked against ``--out`` (nothing written yet)
    outputs: OutputSet | None = None


#: bytes of memory ``render`` holds per frame and pixel: the input, condition, anchor and mask
#: videos (uint8 RGB) and the generated frames in float32 and uint8
_BYTES_PER_PIXEL = 3 * 12


def render_files(name: str, weights: bool) -> list[str]:
    """The files a render of ``name`` writes, besides ``<name>_run.json``."""
    kinds = ((".mp4",) if weights else ()) + ("_input.mp4", "_camera.mp4", "_anchor.mp4", "_anchor_mask.mp4")
    return [name + k for k in kinds]


def check_render(opts: RenderOptions, extra_files=()) -> RenderPlan:
    """Every check that can run before the heavy work, cheapest first; writes nothing.

    Numbers in range (frames and sizes bounded by the free memory), the output folder writable
    and holding no file of the set's names that the kit did not write, the trajectory's actual
    cameras within the kit's limits and showing the head, the video opens and its first frame
    decodes, the weights folder complete with the expected keys (headers only). Raises
    ValueError / FileNotFoundError. ``extra_files``: more files of the set (``demo``'s).
    """
    check_num_frames(opts.frames, "--frames", limit=None)  # bounded by the free memory below
    check_frame_size(opts.height, opts.width)
    size = f"--frames {opts.frames} at {opts.height}x{opts.width}"
    hint = "; pass fewer --frames or a smaller --height/--width"
    check_memory(opts.height * opts.width * _BYTES_PER_PIXEL, opts.frames, size, "frames", hint)
    if isinstance(opts.steps, bool) or not isinstance(opts.steps, int) or opts.steps < 1:
        raise ValueError(f"--steps must be a whole number >= 1, got {opts.steps!r} (official: {NUM_STEPS})")
    if not (isinstance(opts.guidance, (int, float)) and math.isfinite(opts.guidance) and opts.guidance >= 0):
        raise ValueError(f"--guidance must be a finite number >= 0, got {opts.guidance!r} (official: {GUIDANCE_SCALE})")
    if isinstance(opts.seed, bool) or not isinstance(opts.seed, int) or not 0 <= opts.seed < 2**63:
        raise ValueError(f"--seed must be a whole number in [0, 2**63), got {opts.seed!r}")
    if opts.condition not in CONDITIONS:
        raise ValueError(f"--condition must be one of {CONDITIONS}, got {opts.condition!r}")
    name = opts.name or Path(opts.video).stem
    if not name or name.startswith(".") or "/" in name or os.sep in name:
        raise ValueError(f"--name must be a plain file name (no folders, not hidden), got {name!r}")
    files = [*render_files(name, opts.weights is not None), *extra_files]
    outputs = OutputSet(opts.out, name, files)  # a writable folder holding none of our names but ours
    if os.path.realpath(opts.video) in {os.path.realpath(Path(opts.out) / f) for f in files}:
        raise ValueError(f"the outputs named {name!r} would overwrite the source {opts.video}; pass another --name")

    from facecam_kit.face.template import load_template

    if is_clip_spec(opts.trajectory):  # the clone decodes a whole clip: the source video is checked first
        probe_video(opts.video)
    traj = load_trajectory_or_clip(opts.trajectory, opts.frames)
    check_trajectory(traj, load_template(), opts.height, opts.width)
    if not is_clip_spec(opts.trajectory):
        probe_video(opts.video)
    report = None
    if opts.weights is not None:
        from facecam_kit.model.weights import inspect_weights

        report = inspect_weights(opts.weights, opts.allow_missing_keys)
    return RenderPlan(opts, name, traj, report, outputs)


def load_weights(weights, torch_dtype, report=None):
    """The pipeline a ``--weights`` folder holds: a saved FaceCam-mini pipeline
    (``data_samples/facecam_mini/landmarks``) loaded in float32, anything else as
    :func:`facecam_kit.model.weights.load_pipeline` loads it."""
    import torch

    from facecam_kit.model.weights import load_pipeline
    from facecam_kit.userfiles import read_json

    index = Path(weights) / "model_index.json"
    if index.is_file() and read_json(index, "pipeline index").get("_class_name") == "FaceCamMiniPipeline":
        from facecam_kit.mini.pipeline import FaceCamMiniPipeline

        return FaceCamMiniPipeline.from_pretrained(weights, torch_dtype=torch.float32)
    return load_pipeline(weights, torch_dtype, report=report)


def _render_into(outs: OutputSet, plan: RenderPlan, prompt_embeds=None, progress: bool = True) -> dict:
    """The heavy part of ``render``: writes the set's files into ``outs``; returns the run summary."""
    from facecam_kit.baselines.recapture import photo_anchor_video
    from facecam_kit.data.input_video import prepare_input_video
    from facecam_kit.face.condition import condition_video
    from facecam_kit.face.landmarks import NoFaceDetected, detect_landmarks

    opts, name, traj = plan.opts, plan.name, plan.trajectory
    video, height, width = opts.video, opts.height, opts.width
    warnings: list[str] = []
    timings = {}
    t0 = time.perf_counter()
    frames, info = prepare_input_video(video, opts.frames, height, width, check_faces=True, progress=progress)
    timings["input_s"] = time.perf_counter() - t0
    for w in info.warnings():
        _warn(warnings, w)
    if 0 in info.no_face:
        raise NoFaceDetected(f"{video} (cropped to {height}x{width}; the crop and the anchor start from it)", 0)
    if len(info.no_face) > MAX_NO_FACE_SHARE * info.used and not opts.allow_missing_faces:
        raise ValueError(
            f"no face in {len(info.no_face)} of {info.used} frames of {video} (first: frame {info.no_face[0]}), "
            f"more than {MAX_NO_FACE_SHARE:.0%}: FaceCam needs the face in every frame. Trim the clip to where "
            f"the face is visible, or pass --allow-missing-faces"
        )
    write_video(outs.path(f"{name}_input.mp4"), frames)

    t0 = time.perf_counter()
    if opts.condition == "analytic":
        cond = condition_video(traj, height=height, width=width)
    else:
        from facecam_kit.proxy.head import make_proxy_head, proxy_condition_video

        cond = proxy_condition_video(make_proxy_head(), traj, height, width, progress=progress)[0]
    write_video(outs.path(f"{name}_camera.mp4"), cond)
    timings["condition_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    anchor, mask, _ = photo_anchor_video(
        frames[0],
        detect_landmarks(frames[0], f"the first frame of {video}"),
        traj.cameras(),
        height=height,
        width=width,
    )
    write_video(outs.path(f"{name}_anchor.mp4"), anchor)
    write_video(outs.path(f"{name}_anchor_mask.mp4"), np.repeat(mask[..., None] * np.uint8(255), 3, -1))
    timings["anchor_s"] = time.perf_counter() - t0

    label = None
    if opts.weights is None:
        from facecam_kit.model.weights import DOWNLOAD_HELP

        print(f"No --weights given: wrote the input, condition and anchor videos only.\n\n{DOWNLOAD_HELP}")
    else:
        import torch

        t0 = time.perf_counter()
        cuda = torch.cuda.is_available()
        pipe = load_weights(opts.weights, torch.bfloat16 if cuda else torch.float32, plan.weights)
        if cuda and opts.low_vram:  # experts, VAE and text encoder visit the GPU one at a time
            pipe.enable_model_cpu_offload()
            pipe.vae.enable_tiling()
        else:
            pipe = pipe.to("cuda" if cuda else "cpu")
        pipe.set_progress_bar_config(disable=not progress)
        timings["load_s"] = time.perf_counter() - t0
        missing = plan.weights.missing_keys
        if missing:
            label = "INCOMPLETE WEIGHTS"
            _warn(warnings, f"{missing} keys missing from the checkpoints in {opts.weights}: output labelled")
        result = generate_video(
            pipe, frames, traj, opts.steps, opts.seed, opts.guidance, prompt_embeds, cond, label=label
        )
        label = result["label"]
        if result["problem"]:
            _warn(warnings, f"the generated video {result['problem']}: labelled {label!r}; check the weights")
        timings["generate_s"] = result["seconds"]
        write_video(outs.path(f"{name}.mp4"), result["generated"])
    return {
        "name": name,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
        "trajectory": trajectory_to_dict(traj),
        "seed": opts.seed,
        "input": asdict(info),
        "weights": None if plan.weights is None else plan.weights.summary(),
        "label": label,
        "versions": _versions(),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "warnings": warnings,
    }


def label_frames(frames: np.ndarray, text: str = RANDOM_WEIGHTS_LABEL) -> np.ndarray:
    """Burn a banner (default: 'RANDOM WEIGHTS') into (F, H, W, 3) uint8 frames."""
    import cv2

    out = frames.copy()
    scale = float(np.clip(out.shape[2] / (22 * len(text) + 36), 0.2, 0.8))  # fit the label to the frame width
    for f in out:
        cv2.rectangle(f, (0, 0), (f.shape[1], int(30 * scale) + 4), (0, 0, 0), -1)
        cv2.putText(f, text, (3, int(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def run_render(opts: RenderOptions, prompt_embeds=None, progress: bool = True) -> list[Path]:
    """Re-render ``opts.video`` along ``opts.trajectory`` (a preset name, a JSON file or a trajectory).

    Checks everything first (:func:`check_render`), then writes the set ``<name>_input.mp4`` (the
    cropped input), ``<name>_camera.mp4`` (the landmark condition), ``<name>_anchor.mp4`` /
    ``<name>_anchor_mask.mp4`` (the geometric re-rendering of the first frame), with
    ``opts.weights`` ``<name>.mp4`` (the generated video) and ``<name>_run.json``. ``condition``:
    "analytic" (project the generic head's landmarks) or "proxy" (render the proxy head, run
    MediaPipe: the official path). ``low_vram``: model CPU offload and VAE tiling, for GPUs under
    ~48 GB. Without weights it prints what to download and where. Returns the files written.
    """
    plan = check_render(opts)
    with plan.outputs as outs:
        summary = _render_into(outs, plan, prompt_embeds, progress)
        return outs.commit({"job": "render", **summary})


def run_demo(opts: DemoOptions) -> list[Path]:
    """The main job on the bundled sample: ``render`` of ``sample_clip.mp4`` as the set "sample",
    plus ``sample_landmarks.png`` (the detected mesh over the photo), ``sample_proxy.mp4`` (the
    proxy head rendered along the trajectory) and ``sample_camera_path.html`` (the cameras in 3D).

    Without ``weights`` it generates with FaceCam-mini (notebook 09): ``sample_mini.mp4``, the
    sample clip outside the model's domain, and the set "studio" (:func:`studio_demo`)."""
    import imageio.v3 as iio

    from facecam_kit.assets import data_path, load_sample_portrait
    from facecam_kit.face.condition import draw_condition
    from facecam_kit.face.landmarks import detect_landmarks
    from facecam_kit.face.template import load_template
    from facecam_kit.proxy.head import make_proxy_head
    from facecam_kit.proxy.rasterise import render_video
    from facecam_kit.viz import camera_figure

    render = RenderOptions(
        data_path("sample_clip.mp4"),
        opts.trajectory,
        opts.out,
        opts.weights,
        "sample",
        opts.frames,
        allow_missing_keys=opts.allow_missing_keys,
    )
    extra = ["sample_landmarks.png", "sample_proxy.mp4", "sample_camera_path.html"]
    plan = check_render(render, extra + (["sample_mini.mp4"] if opts.weights is None else []))
    studio = None
    if opts.weights is None:  # the second set checked too before the first is written
        studio = (studio_scene(plan.trajectory, label=opts.trajectory), OutputSet(opts.out, "studio", STUDIO_FILES))
    traj, title = plan.trajectory, Path(str(opts.trajectory)).stem
    with plan.outputs as outs:
        summary = _render_into(outs, plan)
        portrait = load_sample_portrait()
        lm = detect_landmarks(portrait, "the sample portrait")
        h, w = portrait.shape[:2]
        iio.imwrite(outs.path("sample_landmarks.png"), draw_condition(lm, h, w, background=portrait))
        write_video(outs.path("sample_proxy.mp4"), render_video(make_proxy_head().gaussians, traj.cameras()))
        fig = camera_figure(
            {title: traj.cameras()},
            {"generic head": load_template()},
            title=f"Camera path '{title}' around the proxy head",
        )
        fig.write_html(outs.path("sample_camera_path.html"), include_plotlyjs=True)
        mini = None
        if opts.weights is None:
            from facecam_kit.mini.models import load_mini_pipeline

            mini = load_mini_pipeline()
            sample = _mini_sample(mini, traj)
            write_video(outs.path("sample_mini.mp4"), sample.pop("generated"))
            summary["facecam_mini"] = sample
        files = outs.commit({"job": "demo", **summary})
    return files + (studio_demo(opts.out, opts.trajectory, mini, *studio) if studio is not None else [])


def _mini_sample(pipe, trajectory) -> dict:
    """FaceCam-mini on the sample clip (a real photo: outside its synthetic domain), labelled so."""
    from facecam_kit.assets import data_path
    from facecam_kit.data.input_video import load_input_video
    from facecam_kit.mini.models import OUTSIDE_LABEL
    from facecam_kit.mini.pipeline import SAMPLER_STEPS
    from facecam_kit.mini.recipe import GENERATE_FRAMES, SIZE

    video, _ = load_input_video(data_path("sample_clip.mp4"), GENERATE_FRAMES, SIZE, SIZE)
    traj = load_trajectory(trajectory, GENERATE_FRAMES)
    r = generate_video(pipe, video, traj, SAMPLER_STEPS, 0, label=OUTSIDE_LABEL)
    return {"generated": r["generated"], "label": r["label"], "seconds": round(r["seconds"], 2)}


STUDIO_FILES = ["studio_generated.mp4", "studio_target.mp4", "studio_side_by_side.mp4", "studio_side_by_side.png"]


def studio_scene(trajectory, head: int = 1, label: str | None = None):
    """The held-out studio ``head`` filmed along ``trajectory`` (a mini.experiment Scene, its
    condition drawn as the shipped models learnt it), or ValueError when the trajectory takes the
    camera away from its face. ``label``: the trajectory's name (default ``str(trajectory)``)."""
    label = str(trajectory) if label is None else label
    from facecam_kit.mini.experiment import held_out_head, make_scene
    from facecam_kit.mini.recipe import GENERATE_FRAMES, SHIPPED, SIZE

    traj = load_trajectory(trajectory, GENERATE_FRAMES)
    h = held_out_head(head, SIZE, GENERATE_FRAMES, SHIPPED.test_seed)
    scene = make_scene(h, traj.cameras(), 1.0, label, "demo", **SHIPPED.scene_options())
    if scene is None:
        raise ValueError(
            f"trajectory {label!r} takes the camera away from the studio head's face (FaceCam-mini's demo "
            "needs 90% of the landmarks in view); choose a gentler one, e.g. arc_left"
        )
    return scene


def studio_generate(pipe, scene, steps: int | None = None, seed: int = 0, callback_on_step_end=None) -> dict:
    """The Generate button's callback for FaceCam-mini: ``pipe`` (its landmark pipeline) re-renders
    a :func:`studio_scene` with the scene's landmark condition (the head's own landmarks: the paper's
    FaceCam row). Returns uint8 videos ``input`` (the source), ``condition``, ``truth`` and ``generated``, the
    ``label``, ``seconds`` (wall time), ``psnr_db`` against the truth and ``faces`` /
    ``faces_truth``: the frames in which MediaPipe finds a face in each (the detector's own rate on
    the truth beside the model's), ``flicker`` / ``flicker_truth``: the mean change from frame to
    frame of each (:func:`facecam_kit.evaluation.fidelity.flicker`)."""
    from facecam_kit.evaluation.fidelity import flicker, psnr
    from facecam_kit.mini.experiment import faces_found, generate_batch
    from facecam_kit.mini.models import LABEL
    from facecam_kit.mini.pipeline import SAMPLER_STEPS

    t0 = time.perf_counter()
    steps = SAMPLER_STEPS if steps is None else steps
    generated = generate_batch(pipe, scene.source[None], [scene.condition], steps, seed, callback_on_step_end)[0]
    seconds = time.perf_counter() - t0
    return {
        "input": scene.source,
        "condition": scene.condition,
        "truth": scene.target,
        "generated": generated,
        "label": LABEL,
        "seconds": seconds,
        "psnr_db": float(psnr(generated, scene.target)),
        "faces": int(faces_found(generated).sum()),
        "faces_truth": int(faces_found(scene.target).sum()),
        "flicker": flicker(generated),
        "flicker_truth": flicker(scene.target),
    }


def studio_demo(out, trajectory, pipe=None, scene=None, outputs: OutputSet | None = None, head: int = 1) -> list[Path]:
    """FaceCam-mini re-renders a held-out studio head along ``trajectory``, beside the ground truth.

    Writes the set "studio": ``studio_generated.mp4``, ``studio_target.mp4`` (the true render along
    the trajectory), ``studio_side_by_side.mp4`` (source | condition | ground truth | generated,
    labelled), ``studio_side_by_side.png`` (the same, six frames of each in a row: the README's
    opening picture) and ``studio_run.json`` (PSNR against the ground truth, the frames in which
    MediaPipe finds a face in the generated video and in the truth, the flicker of each). ``pipe``: FaceCam-mini's
    landmark pipeline (loaded when None); ``scene`` and ``outputs``: :func:`studio_scene` and the
    set, when already checked. Returns the files written.
    """
    import imageio.v3 as iio

    from facecam_kit.mini.models import load_mini_pipeline
    from facecam_kit.mini.pipeline import SAMPLER_STEPS
    from facecam_kit.mini.recipe import GENERATE_FRAMES
    from facecam_kit.viz import montage

    scene = studio_scene(trajectory, head) if scene is None else scene
    outputs = OutputSet(out, "studio", STUDIO_FILES) if outputs is None else outputs
    r = studio_generate(load_mini_pipeline() if pipe is None else pipe, scene)
    panels = [("source", r["input"]), ("condition", r["condition"]), ("truth", r["truth"])]
    panels.append((f"FaceCam-mini ({r['faces']}/{len(r['generated'])} faces)", r["generated"]))

    def title(width: int, text: str) -> np.ndarray:  # a label strip above the frames, not over them
        return label_frames(np.full((len(r["generated"]), 20, width, 3), 255, np.uint8), text)

    side = np.concatenate([np.concatenate([title(v.shape[2], name), v], 1) for name, v in panels], 2)
    rows = [montage(v, 6) for _, v in panels]
    picture = np.concatenate([np.concatenate([title(len(v[0]), name)[0], v]) for (name, _), v in zip(panels, rows)])
    with outputs as outs:
        write_video(outs.path("studio_generated.mp4"), r["generated"])
        write_video(outs.path("studio_target.mp4"), r["truth"])
        write_video(outs.path("studio_side_by_side.mp4"), np.concatenate([title(side.shape[2], r["label"]), side], 1))
        iio.imwrite(outs.path("studio_side_by_side.png"), picture)
        summary = {"trajectory": str(trajectory), "head": head, "frames": GENERATE_FRAMES, "steps": SAMPLER_STEPS}
        summary |= {k: r[k] for k in ("label", "faces", "faces_truth")}
        summary |= {k: round(r[k], 2) for k in ("psnr_db", "flicker", "flicker_truth", "seconds")}
        return outs.commit({"job": "demo (FaceCam-mini)", **summary})


def generate_video(
    pipe,
    video: np.ndarray,
    trajectory,
    steps: int = NUM_STEPS,
    seed: int = 0,
    guidance_scale: float = GUIDANCE_SCALE,
    prompt_embeds=None,
    condition: np.ndarray | None = None,
    label: str | None = None,
    callback_on_step_end=None,
) -> dict:
    """The Generate button's callback: run FaceCam on a prepared source video along a trajectory.

    video: (F, H, W, 3) uint8, already cropped (``load_input_video``); trajectory: an Orbit or
    Preset trajectory; condition: its condition video (default: the analytic path). Pipelines
    without a text encoder get fixed prompt embeddings (zeros unless given). Returns uint8 videos
    ``input``, ``condition`` and ``generated`` (labelled RANDOM WEIGHTS when the pipeline has
    random weights, else with ``label`` when given), the ``label`` used and ``seconds`` (wall time
    of the generation) and ``problem``: None, or what is wrong with the output (NaN values, a
    constant video), which then carries that label instead. ``callback_on_step_end`` is passed to
    the pipeline (e.g. a progress display).
    """
    import torch

    from facecam_kit.face.condition import condition_video
    from facecam_kit.model.pipeline import FaceCamPipeline

    f, h, w = video.shape[:3]
    trajectory = load_trajectory(trajectory, f)
    cond = condition_video(trajectory, height=h, width=w) if condition is None else condition
    kwargs = {}
    if isinstance(pipe, FaceCamPipeline):  # FaceCam-mini reads no text and has no guidance
        kwargs = dict(guidance_scale=guidance_scale)
        if pipe.text_encoder is None:
            emb = torch.zeros(1, 16, pipe.transformer.config.text_dim) if prompt_embeds is None else prompt_embeds
            kwargs |= dict(prompt_embeds=emb, negative_prompt_embeds=torch.zeros_like(emb))
    t0 = time.perf_counter()
    out = pipe(
        video,
        cond,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(seed),
        callback_on_step_end=callback_on_step_end,
        **kwargs,
    )
    seconds = time.perf_counter() - t0
    frames = out.frames[0]
    problem = output_problem(frames)
    generated = (np.nan_to_num(frames, nan=0.0).clip(0, 1) * 255 + 0.5).astype(np.uint8)
    label = RANDOM_WEIGHTS_LABEL if getattr(out, "random_weights", False) else label
    if problem:
        label = INVALID_LABEL
    return {
        "input": video,
        "condition": cond,
        "generated": generated if label is None else label_frames(generated, label),
        "label": label,
        "seconds": seconds,
        "problem": problem,
    }


def output_problem(frames: np.ndarray) -> str | None:
    """What makes generated frames ((F, H, W, 3) float in [0, 1]) unusable: NaN or infinite values,
    or one constant colour; None when they vary."""
    bad = ~np.isfinite(frames)
    if bad.any():
        return f"holds NaN or infinite values ({bad.mean():.0%} of them)"
    if frames.max() - frames.min() < 1 / 255:
        return f"is one constant colour ({frames.mean() * 255:.0f}/255 everywhere)"
    return None
