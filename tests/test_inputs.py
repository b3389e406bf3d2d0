"""Issue 11's table, row by row: real and broken inputs through the CLI (or the library).

Every refusal is exit code 2 with an ``error:`` line that names the input, no traceback, and
``--out`` exactly as it was (same files, sizes and modification times). Tiny sizes keep it fast:
9 frames of 128x96, the tiny pipeline, clips of a few frames. Peak memory on long 1080p and 4K
clips is measured by ``benchmarks/bench_input_memory.py``, not here.
"""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from facecam_kit.assets import data_path
from facecam_kit.cli import main
from facecam_kit.data.input_video import prepare_input_video
from facecam_kit.face.landmarks import check_image, detect_landmarks
from facecam_kit.geometry.trajectory import OrbitTrajectory, PresetTrajectory, load_trajectory, save_trajectory
from facecam_kit.model.pipeline import tiny_facecam_pipeline
from facecam_kit.model.weights import BASE, EXPERTS, to_original_layout
from facecam_kit.proxy.gaussians import Gaussians, read_ply, write_ply
from facecam_kit.video import read_video, write_video

SMALL = ["--frames", "9", "--height", "128", "--width", "96", "--steps", "2"]
CLIP = str(data_path("sample_clip.mp4"))


def snapshot(folder: Path):
    """Every file under ``folder`` (hidden ones too) with its size and mtime; None when absent."""
    if not folder.exists():
        return None
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def used_out(tmp_path) -> Path:
    """An --out folder holding a previous run's set (and another file), as a user's would."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip_input.mp4").write_bytes(b"previous run")
    (out / "notes.txt").write_text("mine")
    return out


def refuse(capsys, args: list[str], out: Path, *names: str) -> str:
    """Run the CLI, expect exit 2, one ``error:`` line naming each of ``names`` (progress bars and
    warnings may come before it), no traceback and ``out`` unchanged. Returns the error line."""
    before = snapshot(out)
    capsys.readouterr()  # what the fixtures printed
    assert main(args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    first = errors[0]
    for name in names:
        assert name in first, (name, first)
    assert snapshot(out) == before
    return first


def render(video, out, *extra) -> list[str]:
    return ["render", "--video", str(video), "--trajectory", "pan_left", "--out", str(out), *SMALL, *extra]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("w") / "tiny"
    tiny_facecam_pipeline().save_pretrained(path)
    return path


def official_folder(root: Path, drop: int = 0, unrelated: bool = False) -> Path:
    """The official layout with tiny components: the diffusers base (tiny DiTs, VAE, a 1-layer
    UMT5 and a word-level tokenizer) and the two experts in the original Wan key layout, less
    ``drop`` keys, or under unrelated names."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

    pipe = tiny_facecam_pipeline()
    base = root / BASE
    for sub in ("transformer", "transformer_2", "vae"):
        getattr(pipe, sub).save_pretrained(base / sub)
    torch.manual_seed(0)
    config = UMT5Config(vocab_size=8, d_model=32, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
    UMT5EncoderModel(config).save_pretrained(base / "text_encoder")
    tok = Tokenizer(models.WordLevel({"<pad>": 0, "</s>": 1, "<unk>": 2}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(base / "tokenizer")
    (base / "model_index.json").write_text("{}")
    for sub, folder in EXPERTS.items():
        sd = to_original_layout(getattr(pipe, sub).state_dict())
        prefix = "unrelated." if unrelated else "model."
        (root / folder).mkdir(parents=True)
        save_file({prefix + k: sd[k].contiguous() for k in sorted(sd)[drop:]}, root / folder / "model.safetensors")
    return root


# -- weights ------------------------------------------------------------------------------------


def test_official_weights_with_unrelated_keys_are_refused(tmp_path, capsys):
    weights = official_folder(tmp_path / "w", unrelated=True)
    out = used_out(tmp_path)
    first = refuse(capsys, render(CLIP, out, "--weights", str(weights)), out, str(weights), "69 of 69 keys missing")
    assert "--allow-missing-keys" in first


def test_a_few_missing_keys_need_the_flag_and_label_the_output(tmp_path, capsys):
    weights = official_folder(tmp_path / "w", drop=1)  # 1 of 69 keys: 1.4%, over the 1% rule
    out = used_out(tmp_path)
    refuse(capsys, render(CLIP, out, "--weights", str(weights)), out, "1 of 69 keys missing")
    assert main(render(CLIP, out, "--weights", str(weights), "--allow-missing-keys")) == 0
    run = json.loads((out / "sample_clip_run.json").read_text())
    assert run["weights"]["components"]["transformer"]["missing"] == 1
    assert run["label"] == "INCOMPLETE WEIGHTS" and any("2 keys missing" in w for w in run["warnings"])
    generated, _ = read_video(out / "sample_clip.mp4")
    assert np.median(generated[:, 7:9]) < 20 < np.median(generated[:, 20:])  # the banner is burnt in


def test_corrupt_safetensors_is_one_line_naming_it(tmp_path, capsys, tiny):
    weights = tmp_path / "w"
    os.system(f"cp -r {tiny} {weights}")
    broken = weights / "transformer" / "diffusion_pytorch_model.safetensors"
    broken.write_bytes(broken.read_bytes()[:5000])
    out = used_out(tmp_path)
    refuse(capsys, render(CLIP, out, "--weights", str(weights)), out, f"corrupt weights file {broken}:")
    data = (weights / "transformer_2" / "diffusion_pytorch_model.safetensors").read_bytes()
    broken.write_bytes(data[: 8 + int.from_bytes(data[:8], "little") + 1000])  # the whole header, tensors cut short
    assert "truncated" in refuse(capsys, render(CLIP, out, "--weights", str(weights)), out, str(broken))


def test_saved_pipeline_with_unrelated_keys_is_refused(tmp_path, capsys, tiny):
    weights = tmp_path / "w"
    os.system(f"cp -r {tiny} {weights}")
    path = weights / "transformer_2" / "diffusion_pytorch_model.safetensors"
    from safetensors.torch import load_file

    save_file({f"other.{k}": v for k, v in load_file(path).items()}, path)
    out = used_out(tmp_path)
    refuse(capsys, render(CLIP, out, "--weights", str(weights)), out, "transformer_2", "69 of 69 keys missing")


def test_mistyped_weights_fail_before_the_proxy_condition(tmp_path, capsys):
    out = used_out(tmp_path)
    t0 = time.perf_counter()
    refuse(capsys, render(CLIP, out, "--weights", str(tmp_path / "wieghts"), "--condition", "proxy"), out, "wieghts")
    assert time.perf_counter() - t0 < 20  # no proxy rendering (minutes at full size) before the error


# -- checks before work -------------------------------------------------------------------------


def test_bad_numbers_are_refused_before_anything_is_written(tmp_path, capsys):
    out = used_out(tmp_path)
    for flag, value in [("--steps", "0"), ("--guidance", "nan"), ("--height", "0"), ("--frames", "8")]:
        args = render(CLIP, out, flag, value)  # argparse keeps the last value given
        refuse(capsys, args, out, flag.lstrip("-"), value)


def test_height_700_with_weights_is_refused_first(tmp_path, capsys, tiny):
    out = used_out(tmp_path)
    args = render(CLIP, out, "--weights", str(tiny))
    args[args.index("--height") + 1] = "700"
    refuse(capsys, args, out, "height", "700")


def test_trajectories_past_the_limits_or_missing_the_head(tmp_path, capsys):
    out = used_out(tmp_path)
    # an arc started 80 degrees round: ReCamMaster's 29.8-degree arc ends at 109.8, past the kit's 90
    arc = save_trajectory(
        PresetTrajectory("arc_left", start=OrbitTrajectory((-80, -80), num_frames=1)), tmp_path / "a.json"
    )
    args = render(CLIP, out)
    args[args.index("pan_left")] = str(arc)
    refuse(capsys, args, out, "arc_left", "azimuth -109.8")
    inside = save_trajectory(OrbitTrajectory(radius=0.3), tmp_path / "r.json")  # a camera inside the head
    args[args.index(str(arc))] = str(inside)
    refuse(capsys, args, out, "does not show the head", "0%")


def test_no_face_is_refused_before_any_file(tmp_path, capsys):
    blank = write_video(tmp_path / "wall.mp4", np.full((9, 160, 128, 3), 200, np.uint8))
    out = used_out(tmp_path)
    refuse(capsys, render(blank, out), out, "No face", "wall.mp4")


def test_out_must_be_a_writable_folder(tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    refuse(capsys, render(CLIP, a_file), tmp_path, "file.txt", "is a file")
    refuse(capsys, render(CLIP, Path("/proc/self/out")), tmp_path, "/proc/self/out", "not writable")
    if os.geteuid() != 0:  # root writes in a 0o555 folder anyway
        ro = tmp_path / "ro"
        ro.mkdir(0o555)
        refuse(capsys, render(CLIP, ro), ro, "ro", "not writable")


# -- outputs as a set ---------------------------------------------------------------------------


def test_a_rerun_replaces_the_previous_set(tmp_path, capsys, tiny):
    out = tmp_path / "out"
    assert main(render(CLIP, out, "--weights", str(tiny))) == 0
    (out / "other_input.mp4").write_bytes(b"another set")
    first = json.loads((out / "sample_clip_run.json").read_text())
    assert "sample_clip.mp4" in first["files"] and first["label"] == "RANDOM WEIGHTS"
    assert main(render(CLIP, out)) == 0  # no weights this time: no generated video in the set
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "other_input.mp4",
        "sample_clip_anchor.mp4",
        "sample_clip_anchor_mask.mp4",
        "sample_clip_camera.mp4",
        "sample_clip_input.mp4",
        "sample_clip_run.json",
    ]
    run = json.loads((out / "sample_clip_run.json").read_text())
    assert run["files"] == names[1:-1] and run["weights"] is None and run["seed"] == 0
    assert {"input_s", "condition_s", "anchor_s"} <= set(run["timings"]) and run["versions"]["mediapipe"]
    assert run["trajectory"] == {"kind": "recammaster", **{k: run["trajectory"][k] for k in run["trajectory"]}}
    capsys.readouterr()


def test_a_killed_run_leaves_the_previous_set_and_its_leftovers_are_cleaned(tmp_path):
    out = tmp_path / "out"
    assert main(render(CLIP, out)) == 0
    before = snapshot(out)
    # a slow run (the proxy condition) killed half way, as the OOM killer would
    args = [sys.executable, "-m", "facecam_kit", *render(CLIP, out, "--condition", "proxy")]
    args[args.index("--frames") + 1] = "81"
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not any(p.name.endswith(".mp4") for p in out.glob(".sample_clip.partial-*/*")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    leftovers = list(out.glob(".sample_clip.partial-*"))
    assert leftovers and [s for s in snapshot(out) if not s[0].startswith(".")] == before
    (out / ".sample_clip_input.partial.mp4").write_bytes(bytes(1000))  # what an older kit left behind
    assert main(render(CLIP, out)) == 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


# -- every frame --------------------------------------------------------------------------------


def portrait_clip(path, frames: list[np.ndarray], fps: float = 24.0, faststart: bool = False) -> Path:
    if not faststart:
        return write_video(path, np.stack(frames), fps)
    h, w = frames[0].shape[:2]
    flags = ["-loglevel", "error", "-movflags", "+faststart"]  # the index first: a cut file still opens
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, macro_block_size=1, output_params=flags)
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    return Path(path)


def test_a_face_leaving_the_frame_is_refused_unless_allowed(tmp_path, capsys, portrait):
    blank = np.full_like(portrait, 128)
    clip = portrait_clip(tmp_path / "leaves.mp4", [portrait] * 4 + [blank] * 5)
    out = used_out(tmp_path)
    first = refuse(capsys, render(clip, out), out, "leaves.mp4", "no face in 5 of 9 frames", "first: frame 4")
    assert "--allow-missing-faces" in first
    assert main(render(clip, out, "--allow-missing-faces")) == 0
    run = json.loads((out / "leaves_run.json").read_text())
    assert run["input"]["no_face"] == [4, 5, 6, 7, 8]
    assert any("no face in 5 (frames 4, 5, 6, 7, 8) of 9 frames" in w for w in run["warnings"])
    assert "warning: no face in 5 (frames 4, 5, 6, 7, 8) of 9 frames of" in capsys.readouterr().err


def test_two_faces_use_the_largest_and_say_so(tmp_path, capsys, portrait):
    h, w = portrait.shape[:2]
    small = cv2.resize(portrait, (w * 9 // 10, h * 9 // 10), interpolation=cv2.INTER_AREA)
    two = np.full((h, 2 * w, 3), 255, np.uint8)
    two[:, w:] = portrait[:, ::-1]  # the larger face on the right
    two[h // 20 : h // 20 + small.shape[0], : small.shape[1]] = small
    clip = portrait_clip(tmp_path / "two.mp4", [two] * 9)
    out = tmp_path / "out"
    assert main(render(clip, out, "--height", "704", "--width", "480")) == 0
    run = json.loads((out / "two_run.json").read_text())
    assert run["input"]["faces_first_frame"] == 2
    assert any("2 faces in the first frame" in m and "largest" in m for m in run["warnings"])
    assert "warning: 2 faces in the first frame" in capsys.readouterr().err
    crop, _ = read_video(out / "two_input.mp4")
    nose = detect_landmarks(crop[0])[4]
    assert crop.shape[1:3] == (704, 480) and abs(nose[0] - 240) < 60  # centred on a face
    frames, report = prepare_input_video(clip, 9, 704, 480)
    # the crop on the right face: the frame shows its mirrored pixels, not the left face's
    right = cv2.resize(two, (int(np.ceil(2 * w * 704 / h - 1e-6)), 704), interpolation=cv2.INTER_AREA)
    assert np.abs(frames[0][:, -100:].astype(int) - right[:, -100:]).mean() < 8


def test_short_and_truncated_clips_are_reported(tmp_path, portrait):
    frames = [np.roll(portrait, 4 * i, axis=1) for i in range(48)]
    clip = portrait_clip(tmp_path / "cut.mp4", frames, faststart=True)
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) * 7 // 10])  # the first frames' data and the index survive
    video, report = prepare_input_video(clip, 81, 128, 96, check_faces=False)
    assert report.expected == 48 and report.truncated and 0 < report.decoded < 48
    assert report.used == report.decoded and report.repeated == 81 - report.used and video.shape == (81, 128, 96, 3)
    text = " / ".join(report.warnings())
    assert f"only {report.decoded} of its 48 frames decode" in text and f"repeated {81 - report.used} times" in text


def test_only_the_frames_used_are_decoded(tmp_path, portrait):
    # 60 fps: every second frame; 9 frames used of 200, so decoding stops at frame 17
    clip = write_video(tmp_path / "long.mp4", (np.roll(portrait, i, axis=1) for i in range(200)), fps=60)
    video, report = prepare_input_video(clip, 9, 128, 96, check_faces=False)
    assert (report.stride, report.used, report.decoded, report.repeated) == (2, 9, 17, 0)
    assert not report.truncated and report.warnings() == []


# -- library errors -----------------------------------------------------------------------------


def test_empty_and_rgba_images(portrait):
    with pytest.raises(ValueError, match="photo.png is empty \\(0x0 pixels\\)"):
        detect_landmarks(np.zeros((0, 0, 3), np.uint8), "photo.png")
    rgba = np.dstack([portrait, np.full(portrait.shape[:2], 255, np.uint8)])
    rgba[:100, :100] = (255, 0, 0, 0)  # transparent pixels hiding red
    with pytest.warns(UserWarning, match="cutout.png has an alpha channel: composited over white"):
        flat = check_image(rgba, "cutout.png")
    assert (flat[:100, :100] == 255).all() and (flat[200:] == portrait[200:]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm = detect_landmarks(rgba)
    assert np.abs(lm - detect_landmarks(portrait)).max() < 5


def test_truncated_and_nan_ply(tmp_path):
    rng = np.random.default_rng(0)
    n = 50
    g = Gaussians(
        rng.normal(size=(n, 3)), np.full((n, 3), 0.1), rng.normal(size=(n, 4)), np.full(n, 0.5), np.full((n, 3), 0.5)
    )
    path = write_ply(tmp_path / "head.ply", g)
    data = path.read_bytes()
    (tmp_path / "cut.ply").write_bytes(data[:-1000])
    with pytest.raises(ValueError, match="cut.ply is truncated: its header declares 50 vertices, the file holds 35"):
        read_ply(tmp_path / "cut.ply")
    g.means[7, 1] = np.nan
    write_ply(tmp_path / "nan.ply", g)
    with pytest.raises(ValueError, match="nan.ply: 1 of 50 vertices hold NaN or infinite values \\(first: vertex 7\\)"):
        read_ply(tmp_path / "nan.ply")


def test_mediapipe_starts_silently(tmp_path):
    # MediaPipe's native start-up logs (TFLite, absl) reach file descriptor 2 from its own threads
    code = (
        "from facecam_kit.assets import load_sample_portrait\n"
        "from facecam_kit.face.landmarks import LandmarkDetector, detect_landmarks\n"
        "import numpy as np, sys\n"
        "p = load_sample_portrait()\n"
        "assert detect_landmarks(p).shape == (478, 3)\n"
        "with LandmarkDetector(max_faces=2, video=True) as d:\n"
        "    counts = [len(d.detect_all(f)) for f in (np.zeros_like(p), p, p)]\n"
        "print(counts, file=sys.stderr)\n"
    )
    for _ in range(3):  # the logs come at varying moments: look more than once
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stderr == "[0, 1, 1]\n", r.stderr


# == issue 18: every command checks first and deletes only what it wrote ==========================
# Each test below failed on the commit before issue 18 (e3e7a6b); the closing note lists how.

TRAIN_YAML = str(Path(__file__).resolve().parent.parent / "configs/train/tiny_studio.yaml")


def train_sets(tmp_path, **extra) -> list[str]:
    """``--set`` items for a 2-step tiny training run in ``tmp_path`` (studio made on the fly)."""
    sets = {
        "output_dir": tmp_path / "run",
        "data_root": tmp_path / "studio",
        "make_studio": "{num_heads: 1, num_cameras: 3, num_frames: 5, size: 32, seed: 0}",
        "num_frames": 5,
        "samples_per_item": 2,
        "max_steps": 2,
        "checkpoint_every": 1,
        "validate_every": 0,
        "tracker": "none",
        "progress": "false",
        **extra,
    }
    return [x for k, v in sets.items() for x in ("--set", f"{k}={v}")]


# -- data loss -----------------------------------------------------------------------------------


def test_render_keeps_the_users_files_that_carry_its_names(tmp_path, capsys, tiny):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "me.mp4").write_bytes(b"my own film")  # never written by the kit
    clip = folder / "me.mov"
    clip.write_bytes(Path(CLIP).read_bytes())
    assert main(render(clip, folder)) == 0  # no weights: the set has no me.mp4, and it stays
    assert (folder / "me.mp4").read_bytes() == b"my own film"
    (folder / "holiday.mp4").write_bytes(b"holiday")
    first = refuse(capsys, render(CLIP, folder, "--name", "holiday", "--weights", str(tiny)), folder, "holiday.mp4")
    assert "did not write" in first
    # a file of the kit's own earlier set, changed by the user since, is the user's now
    (folder / "me_camera.mp4").write_bytes(b"edited")
    refuse(capsys, render(clip, folder), folder, "me_camera.mp4")
    assert (folder / "me_camera.mp4").read_bytes() == b"edited"


def test_train_mini_and_train_refuse_folders_they_did_not_create(tmp_path):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("years of work")
    commands = {
        "--out": ["train-mini", "--out", str(thesis), "--work", str(tmp_path / "work")],
        "--work": ["train-mini", "--out", str(tmp_path / "models"), "--work", str(thesis)],
        "--out ..": ["train-mini", "--out", str(thesis / ".."), "--work", str(tmp_path / "w2")],
        "output_dir": ["train", TRAIN_YAML, *train_sets(tmp_path, output_dir=thesis)],
    }
    for what, args in commands.items():
        r = subprocess.run([sys.executable, "-m", "facecam_kit", *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and r.stderr.startswith("error: ") and "not empty" in r.stderr, (what, r.stderr)
        assert sorted(p.name for p in thesis.iterdir()) == ["chapter1.tex"], what
    assert not (tmp_path / "studio").exists()  # refused before the studio was made


def test_a_run_in_another_pid_namespace_keeps_its_partial_folder(tmp_path):
    """Two containers share --out: the other run's PID means nothing here, so a PID-named partial
    folder looks like a killed run's. Simulated by a run whose os.getpid() is a PID that is free here."""
    out = tmp_path / "out"
    args = render(CLIP, out, "--condition", "proxy")
    args[args.index("--frames") + 1] = "41"
    args[args.index("pan_left")] = "arc_left"  # MediaPipe finds the small proxy head in every frame
    code = f"import os, sys; os.getpid = lambda: 4000000\nfrom facecam_kit.cli import main\nsys.exit(main({args!r}))"
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not any(p.suffix == ".mp4" for p in out.glob(".sample_clip.partial*/*")) and time.time() < deadline:
        time.sleep(0.2)
    assert main(render(CLIP, out)) == 0  # this run, same name, same folder
    assert other.wait(timeout=300) == 0, other.stderr.read()
    # whichever run committed last owns the set (the other's 41 frames need not finish later): whole
    run = json.loads((out / "sample_clip_run.json").read_text())
    assert run["options"]["condition"] in {"proxy", "analytic"} and len(run["files"]) == 4
    assert all((out / f).is_file() for f in run["files"])


def test_a_set_missing_a_file_is_never_a_success(tmp_path):
    from facecam_kit.outputs import OutputSet

    out = used_out(tmp_path)
    before = snapshot(out)
    with pytest.raises(OSError, match="b.mp4 vanished"), OutputSet(out, "clip", ["clip_a.mp4", "clip_b.mp4"]) as s:
        s.path("clip_a.mp4").write_bytes(b"a")
        s.commit({"job": "test"})
    assert snapshot(out) == before


# -- memory and security ------------------------------------------------------------------------


def test_a_header_claiming_gigabytes_is_refused_without_reading_it(tmp_path, capsys, tiny):
    weights = tmp_path / "w"
    os.system(f"cp -r {tiny} {weights}")
    bomb = weights / "transformer" / "diffusion_pytorch_model.safetensors"
    with open(bomb, "wb") as f:  # a sparse 2.1 GB file whose first 8 bytes claim a 2 GiB header
        f.write((2**31).to_bytes(8, "little"))
        f.truncate(2**31 + 2**27)
    out = used_out(tmp_path)
    first = refuse(capsys, render(CLIP, out, "--weights", str(weights)), out, str(bomb), "2,147,483,648")
    assert "at most 100,000,000" in first


def test_configs_with_alias_bombs_or_other_shapes_are_one_line(tmp_path):
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"{c}: &{c} [{', '.join(['*' + p] * 10)}]" for p, c in zip("abcde", "bcdef")]
    (tmp_path / "bomb.yaml").write_text("\n".join(levels) + "\nmake_studio: {num_heads: *f}\n")  # 10**6 values
    (tmp_path / "list.yaml").write_text("- max_steps: 3\n")
    (tmp_path / "scalar.yaml").write_text("42\n")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    expected = {
        "bomb.yaml": "expands to more than",
        "list.yaml": "must be a mapping",
        "scalar.yaml": "must be a mapping",
        "deep.json": "nested more than",
    }
    for name, message in expected.items():
        r = subprocess.run(
            [sys.executable, "-m", "facecam_kit", "train", str(tmp_path / name)], capture_output=True, text=True
        )
        assert r.returncode == 2 and "Traceback" not in r.stderr, (name, r.stderr[-2000:])
        assert r.stderr.startswith("error: ") and message in r.stderr and name in r.stderr, (name, r.stderr)


def test_frames_beyond_the_memory_are_refused_naming_what_fits(tmp_path, capsys):
    out = used_out(tmp_path)
    args = render(CLIP, out)
    args[args.index("--frames") + 1] = "100001"
    refuse(capsys, args, out, "--frames 100001", "GB to spare", "enough for about")


def test_evaluate_checks_the_headers_before_decoding(tmp_path, capsys, portrait):
    generated = write_video(tmp_path / "gen.mp4", np.stack([portrait[:256, :256]] * 9))
    reference = write_video(tmp_path / "ref.mp4", np.stack([portrait[:256, :256]] * 200))
    args = ["evaluate", "--generated", str(generated), "--reference", str(reference), "--out", str(tmp_path / "ev")]
    refuse(capsys, args, tmp_path / "ev", "ref.mp4", "about 200 frames", "gen.mp4")
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"generated": "gen.mp4", "reference": "gen.mp4"}, {"generated": "gen.mp4"}]))
    # the second entry has the same name: refused before the first is decoded
    refuse(capsys, ["evaluate", "--manifest", str(manifest), "--out", str(tmp_path / "ev")], tmp_path / "ev", "gen")


# -- silent wrong output or wasted work ----------------------------------------------------------


def test_max_grad_norm_must_be_positive_or_null():
    from facecam_kit.train.config import TrainConfig, parse_overrides

    for bad in ("-1", "0"):
        with pytest.raises(ValueError, match="max_grad_norm must be > 0 \\(or null for no clipping\\)"):
            TrainConfig(**parse_overrides([f"max_grad_norm={bad}"]))
    assert TrainConfig(**parse_overrides(["max_grad_norm=null"])).max_grad_norm is None
    assert TrainConfig(**parse_overrides(["lr=1e-4"])).lr == 1e-4  # YAML 1.1 reads 1e-4 as a string


def test_nan_weights_are_labelled_and_recorded(tmp_path, tiny):
    weights = tmp_path / "nan"
    os.system(f"cp -r {tiny} {weights}")
    from safetensors.torch import load_file

    path = weights / "transformer" / "diffusion_pytorch_model.safetensors"
    save_file({k: torch.full_like(v, float("nan")) for k, v in load_file(path).items()}, path)
    out = tmp_path / "out"
    assert main(render(CLIP, out, "--weights", str(weights))) == 0
    run = json.loads((out / "sample_clip_run.json").read_text())
    assert run["label"] == "INVALID OUTPUT" and any("NaN" in w for w in run["warnings"])
    generated, _ = read_video(out / "sample_clip.mp4")
    assert generated[:, :12].max() > 150 and generated[:, 20:].max() < 30  # the banner's text on black frames


def test_a_far_camera_is_refused_as_too_small(tmp_path, capsys):
    out = used_out(tmp_path)
    far = save_trajectory(OrbitTrajectory(radius=1e6), tmp_path / "far.json")
    args = render(CLIP, out)
    args[args.index("pan_left")] = str(far)
    refuse(capsys, args, out, "too small", "frame height")


def test_demo_checks_both_sets_before_writing(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "studio_target.mp4").write_bytes(b"someone's video")
    refuse(capsys, ["demo", "--out", str(out), "--frames", "9"], out, "studio_target.mp4")


def test_evaluate_writes_all_its_files_or_none(tmp_path, portrait, monkeypatch):
    from facecam_kit.evaluation.job import EvaluateOptions, run_evaluate
    from facecam_kit.evaluation.report import EvaluationReport

    video = write_video(tmp_path / "v.mp4", np.stack([portrait[:128, :128]] * 5))
    out = tmp_path / "ev"
    opts = EvaluateOptions(out=out, generated=video, reference=video)
    files = run_evaluate(opts, progress=False)
    assert sorted(p.name for p in files) == sorted(
        ["evaluation.csv", "evaluation_frames.csv", "evaluation.json", "evaluation.png", "evaluation_run.json"]
    )
    before = snapshot(out)
    monkeypatch.setattr(EvaluationReport, "figure", lambda self: 1 / 0)  # the last file fails
    with pytest.raises(ZeroDivisionError):
        run_evaluate(opts, progress=False)
    assert snapshot(out) == before


def test_trainer_checks_its_output_folder_and_stops_on_nan(tmp_path, capsys, monkeypatch):
    ro = Path("/proc/self/run")
    refuse(capsys, ["train", TRAIN_YAML, *train_sets(tmp_path, output_dir=ro)], tmp_path, "output_dir", "not writable")
    assert not (tmp_path / "studio").exists()  # before the studio, the model and the cache
    import facecam_kit.train.trainer as trainer

    real = trainer.flow_matching_loss

    def diverging(model, batch, *args):
        loss, stats = real(model, batch, *args)
        return loss * float("nan"), stats

    monkeypatch.setattr(trainer, "flow_matching_loss", diverging)
    first = refuse(capsys, ["train", TRAIN_YAML, *train_sets(tmp_path)], tmp_path / "nothing", "the loss is nan")
    assert "at step 1" in first


def test_resume_refuses_a_damaged_state(tmp_path, capsys):
    assert main(["train", TRAIN_YAML, *train_sets(tmp_path, max_steps=1)]) == 0
    state = tmp_path / "run" / "checkpoint-000001" / "training_state"
    rng = state / "random_states_0.pkl"
    rng.write_bytes(rng.read_bytes()[:20])
    resume = train_sets(tmp_path, resume="latest")
    refuse(capsys, ["train", TRAIN_YAML, *resume], tmp_path / "run", "checkpoint-000001", "cannot be resumed")
    rng.unlink()
    model = next(state.glob("model*.safetensors"))
    model.write_bytes(model.read_bytes()[:100])  # a truncated checkpoint
    refuse(capsys, ["train", TRAIN_YAML, *resume], tmp_path / "run", "cannot be resumed")


def test_sigterm_cleans_up_and_says_so(tmp_path):
    out = tmp_path / "out"
    args = render(CLIP, out, "--condition", "proxy")
    args[args.index("--frames") + 1] = "81"
    proc = subprocess.Popen(
        [sys.executable, "-m", "facecam_kit", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while not any(p.suffix == ".mp4" for p in out.glob(".sample_clip.partial*/*")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert "terminated (SIGTERM): render wrote nothing" in proc.stderr.read()
    assert not out.exists()  # the folder it created is gone with the partial set


# -- tracebacks and unclear messages -------------------------------------------------------------


def test_hostile_files_are_one_line_each(tmp_path, capsys, tiny):
    out = used_out(tmp_path)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    start = tmp_path / "start.json"
    start.write_text(json.dumps({"kind": "recammaster", "name": "arc_left", "start": [1, 2]}))
    for path, message in [(deep, "nested more than"), (listed, "JSON object"), (start, "start must be an orbit")]:
        args = render(CLIP, out)
        args[args.index("pan_left")] = str(path)
        refuse(capsys, args, out, path.name, message)
    refuse(capsys, ["evaluate", "--manifest", str(deep), "--out", str(out)], out, "deep.json", "nested")
    # a pipeline index that is a list, and an expert checkpoint with an impossible shape
    weights = tmp_path / "w"
    os.system(f"cp -r {tiny} {weights}")
    (weights / "model_index.json").write_text("[]")
    refuse(capsys, render(CLIP, out, "--weights", str(weights)), out, "model_index.json", "JSON object")
    official = official_folder(tmp_path / "o")
    expert = official / EXPERTS["transformer"] / "model.safetensors"
    data = expert.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    key = next(k for k in header if k != "__metadata__")
    header[key]["shape"] = [-4, 2**62]
    text = json.dumps(header).encode()
    expert.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + n :])
    refuse(capsys, render(CLIP, out, "--weights", str(official)), out, str(expert), "impossible shape")


def test_symlink_loops_long_arguments_and_full_disks(tmp_path, capsys):
    out = used_out(tmp_path)
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    refuse(capsys, render(loop, out), out, "loop")
    refuse(capsys, render(CLIP, loop), tmp_path / "out", "loop", "symlink loop")
    huge = "x" * 50_000_000  # a 50 MB --trajectory: the error line stays short
    args = render(CLIP, out)
    args[args.index("pan_left")] = huge
    first = refuse(capsys, args, out, "neither a trajectory name")
    assert len(first) <= 520
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / ".v.partial.mp4").symlink_to("/dev/full")  # where write_video writes first
    with pytest.raises(OSError, match="could not write .*v.mp4: ffmpeg stopped .*is the disk full"):
        write_video(tmp_path / "full" / "v.mp4", np.zeros((30, 64, 64, 3), np.uint8))


# == issue 37: real files and hostile ones, round 4 ================================================
# Each test below failed on the commit before issue 37 (4d58ae2); the closing note lists how.


def _unreal_6_decimals(path: Path) -> Path:
    """A ReCamMaster camera_extrinsics.json written as the official one is: 6 decimals."""
    import re

    from facecam_kit.geometry.formats import write_cameras

    text = write_cameras(OrbitTrajectory((-30, 30), (0, 10)).cameras(), path, "recammaster").read_text()
    path.write_text(re.sub(r"-?\d+\.\d+(e-?\d+)?", lambda m: f"{float(m.group()):.6f}", text))
    return path


def test_real_tools_camera_files_are_accepted_and_said_how_far_off(tmp_path, capsys):
    official = _unreal_6_decimals(tmp_path / "camera_extrinsics.json")
    capsys.readouterr()
    assert main(["trajectory", "show", str(official)]) == 0
    out, err = capsys.readouterr()
    assert "81 cameras around the head" in out and "render --trajectory accepts" in out
    assert err.startswith("warning: ") and "orthonormal to 1." in err and "e-06 only" in err
    mine = tmp_path / "mine.json"
    assert main(["trajectory", "convert", str(official), str(mine)]) == 0  # a file render accepts
    assert len(load_trajectory(mine).cameras()) == 81


def test_units_per_metre_is_bounded_for_every_source(tmp_path, capsys):
    src = save_trajectory(OrbitTrajectory((-20, 20)), tmp_path / "kit.json")
    for source in ("arc_left", str(src)):
        for value in ("0", "nan", "inf", "-1", "1e300"):
            out = tmp_path / f"o_{value}.json"
            args = ["trajectory", "convert", source, str(out), "--to", "c2w-opencv", "--units-per-metre", value]
            refuse(capsys, args, tmp_path, "--units-per-metre", value.replace("1e300", "1e+300"))
            assert not out.exists()


def test_frame_counts_from_files_are_bounded_before_work(tmp_path, capsys):
    orbit = tmp_path / "orbit.json"
    orbit.write_text(json.dumps({"kind": "orbit", "num_frames": 1000000001}))
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"kind": "keyframes", "keyframes": [{"frame": 0}], "num_frames": 1000000001}))
    poses = tmp_path / "poses.txt"
    line = "0 0.5 0.5 0.5 0.5 0 0 1 0 0 0 0 1 0 0 0 0 1 -2\n"
    poses.write_text("https://www.youtube.com/watch?v=x\n" + line * 89_001)
    for path in (orbit, keys, poses):
        t0 = time.perf_counter()
        first = refuse(capsys, ["trajectory", "show", str(path)], tmp_path, path.name, "more than the kit's 10,001")
        assert time.perf_counter() - t0 < 10, first


class _Payload:
    """A pickle that runs ``os.mkdir(path)`` when loaded, as a crafted checkpoint would run anything."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_resume_runs_no_code_from_a_checkpoint_and_a_refused_run_leaves_no_folder(tmp_path, capsys):
    state = tmp_path / "downloaded" / "training_state"
    state.mkdir(parents=True)
    (state / "trainer_state.json").write_text('{"step": 1}')
    ran = tmp_path / "code_ran"
    torch.save({"random_state": _Payload(ran), "torch_manual_seed": 0}, state / "random_states_0.pkl")
    args = ["train", TRAIN_YAML, *train_sets(tmp_path, resume=state.parent)]
    # output_dir (tmp_path / "run") is new: refused, it is not left behind holding train_run.json
    first = refuse(capsys, args, tmp_path / "run", "cannot be resumed", "code to run (posix.mkdir)")
    assert not ran.exists(), first


def test_a_refused_train_run_leaves_no_output_dir(tmp_path, capsys):
    # refused after the model is built (the checkpoint to resume is missing): the new output_dir is not left
    # behind holding train_run.json, which would make it look like a run of the kit
    args = ["train", TRAIN_YAML, *train_sets(tmp_path, resume=tmp_path / "nowhere")]
    refuse(capsys, args, tmp_path / "run", "nowhere", "not a training checkpoint")


def test_gpu_check_keeps_a_users_folder_and_checks_docs_first(tmp_path, capsys):
    mine = tmp_path / "mine"
    (mine / "work").mkdir(parents=True)
    (mine / "work" / "thesis.tex").write_text("years of work")
    (mine / "report.json").write_text('{"my": "report"}')
    (mine / "stages.log").write_text("my log")
    quick = ["gpu-check", "--dry-run", "--budget", "1"]  # every stage skipped: seconds
    refuse(capsys, [*quick, "--out", str(mine)], mine, "--out", "not empty", "a report.json the kit did not write")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    refuse(capsys, [*quick, "--out", str(a_file)], tmp_path, "file.txt", "is a file")
    out = tmp_path / "report"
    t0 = time.perf_counter()
    refuse(capsys, [*quick, "--out", str(out), "--docs", str(mine)], mine, "--docs", "not a writable file")
    refuse(capsys, [*quick, "--out", str(out), "--docs", "/proc/self/b.md"], tmp_path, "--docs", "not writable")
    assert time.perf_counter() - t0 < 10 and not out.exists()  # refused before any stage
    assert main([*quick, "--out", str(out)]) == 0
    assert main([*quick, "--out", str(out)]) == 0  # its own folder: run again
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "stages.log"]


def test_nested_settings_are_typed_to_any_depth(tmp_path, capsys):
    cases = {
        "dit={num_layers: abc}": "dit.num_layers must be a whole number",
        "dit={patch_size: [1, 2, x]}": "dit.patch_size[2] must be a whole number",
        "make_studio={bogus: 1}": "make_studio has no setting 'bogus'",
        "make_studio={num_heads: 1, size: 32.5}": "make_studio.size must be a whole number",
        "make_studio={rig: {aim_offset: x}}": "make_studio.rig.aim_offset must be a finite number",
        "make_studio={num_heads: -1}": "make_studio.num_heads must be a whole number in [1, 2**31)",
        "extra_trainable=[nosuchmodule]": "extra_trainable ['nosuchmodule'] name no module",
    }
    for item, message in cases.items():
        key, _, value = item.partition("=")
        refuse(capsys, ["train", TRAIN_YAML, *train_sets(tmp_path, **{key: value})], tmp_path / "run", message)


def test_no_raw_errno_lines(tmp_path, capsys):
    out = used_out(tmp_path)
    refuse(capsys, render(CLIP, out, "--name", "n" * 250), out, "--name", "255", "shorter --name")
    refuse(capsys, ["trajectory", "show", "random:²"], tmp_path, "random:²", "whole number")
    full = tmp_path / "full"
    full.mkdir()
    (full / ".mine.json.partial").symlink_to("/dev/full")  # where the file is written first
    first = refuse(capsys, ["trajectory", "convert", "arc_left", str(full / "mine.json")], out, "mine.json")
    assert "is the disk full" in first and not (full / "mine.json").exists()


def test_evaluate_checks_names_then_headers_then_frame_counts_before_decoding(tmp_path, capsys, portrait, monkeypatch):
    import facecam_kit.evaluation.job as job

    def never(*args, **kwargs):
        raise AssertionError("decoded or probed before the cheaper checks")

    face = portrait[:128, :128]
    long = write_video(tmp_path / "long.mp4", np.stack([face] * 240))  # 10 s at 24 fps: not 4k+1 frames
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"generated": "long.mp4"}, {"generated": "long.mp4", "reference": "long.mp4"}]))
    out = tmp_path / "ev"
    with monkeypatch.context() as m:
        m.setattr(job, "probe_video", never)  # a duplicate name is found before any video is probed
        refuse(capsys, ["evaluate", "--manifest", str(manifest), "--out", str(out)], out, "'long'", "unique")
    with monkeypatch.context() as m:
        m.setattr(job, "read_video", never)  # the frame count is refused from the packets, nothing decoded
        args = ["evaluate", "--generated", str(long), "--trajectory", "pan_left", "--out", str(out)]
        refuse(capsys, args, out, "long.mp4", "has 240 frames", "4k+1")
    # one frame has no motion: not classified as a preset (it was pan_right)
    one = write_video(tmp_path / "one.mp4", portrait[None])
    assert main(["evaluate", "--generated", str(one), "--trajectory", "pan_left", "--out", str(out)]) == 0
    video = json.loads((out / "evaluation.json").read_text())["videos"][0]
    assert video["face_detected"] == 1 and video["motion"] is None


def test_cache_dir_is_checked_before_the_cache_is_built(tmp_path, capsys):
    a_file = tmp_path / "cache.bin"
    a_file.write_text("mine")
    args = ["train", TRAIN_YAML, *train_sets(tmp_path, cache_dir=a_file)]
    refuse(capsys, args, tmp_path / "run", "cache_dir", "is a file")
    assert not (tmp_path / "studio").exists()  # refused before the studio and its latents


def test_train_mini_refuses_a_damaged_vae_before_copying_it(tmp_path, capsys):
    from diffusers import AutoencoderKLWan

    from facecam_kit.mini.recipe import SMOKE
    from facecam_kit.mini.studio_vae import vae_settings

    vae = tmp_path / "vae"
    AutoencoderKLWan(**SMOKE.vae_config()).save_pretrained(vae)
    (vae / "record.json").write_text(json.dumps({"settings": vae_settings(SMOKE)}))
    weights = vae / "diffusion_pytorch_model.safetensors"
    whole = weights.read_bytes()
    work = tmp_path / "work"
    args = ["train-mini", "--recipe", "smoke", "--vae", str(vae), "--out", str(tmp_path / "m"), "--work", str(work)]
    for damage, message in [
        (lambda: weights.write_bytes(whole[: len(whole) // 2]), "truncated"),
        (lambda: weights.write_bytes(b"garbage" * 100), "not a safetensors file"),
        (lambda: (vae / "record.json").write_text("[1, 2]"), "holds no training settings"),
    ]:
        damage()
        refuse(capsys, args, work, str(vae), message)
        weights.write_bytes(whole)
        (vae / "record.json").write_text(json.dumps({"settings": vae_settings(SMOKE)}))


def test_a_sigterm_during_a_finaliser_still_ends_the_run(tmp_path):
    """Python swallows an exception raised in ``__del__`` (or a generator closed by the garbage
    collector, as while ffmpeg's pipes are set up): SIGTERM there must still end the run, once."""
    code = (
        "import os, signal, sys, time\n"
        "import facecam_kit.cli as cli\n"
        "class Pipe:\n"
        "    def __del__(self):\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(0.05)\n"
        "def job(**kwargs):\n"
        "    Pipe()\n"
        "    for _ in range(100):\n"
        "        time.sleep(0.1)\n"
        "    print('kept going', file=sys.stderr)\n"
        "    return []\n"
        "cli.run_trajectory = job\n"
        "sys.exit(cli.main(['trajectory', 'show', 'arc_left']))\n"
    )
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 143 and time.perf_counter() - t0 < 8, r.stderr
    assert r.stderr == "terminated (SIGTERM): trajectory wrote nothing\n", r.stderr


def test_an_alarm_that_is_not_a_sigterms_retry_does_not_end_the_run():
    """SIGALRM retries a SIGTERM that did not end the job; any other alarm is not a SIGTERM."""
    code = (
        "import os, signal, sys, time\n"
        "import facecam_kit.cli as cli\n"
        "def job(**kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGALRM)\n"
        "    time.sleep(0.2)\n"
        "    return []\n"
        "cli.run_trajectory = job\n"
        "sys.exit(cli.main(['trajectory', 'show', 'arc_left']))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "terminated" not in r.stderr, r.stderr


def test_a_dit_too_large_or_a_vae_not_whole_is_refused_before_it_is_built(tmp_path, capsys):
    huge = "{attention_head_dim: 1000000, num_layers: 100}"  # 3e15 parameters: counted on the meta device
    refuse(capsys, ["train", TRAIN_YAML, *train_sets(tmp_path, dit=huge)], tmp_path / "run", "dit", "GB to spare")
    refuse(
        capsys, ["train", TRAIN_YAML, *train_sets(tmp_path, vae=tmp_path)], tmp_path / "run", "vae", "no config.json"
    )


def test_a_stopped_train_run_says_the_checkpoints_it_kept(tmp_path):
    args = ["train", TRAIN_YAML, *train_sets(tmp_path, max_steps=10_000)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "facecam_kit", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while not (tmp_path / "run" / "checkpoint-000002").is_dir() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    last = proc.stderr.read().decode().strip().splitlines()[-1]
    assert last.startswith("terminated (SIGTERM): kept ") and "checkpoint-0000" in last, last  # not "wrote nothing"
    assert (tmp_path / "run" / "checkpoint-000002").is_dir()


def test_show_html_is_written_whole_or_not_at_all(tmp_path, capsys):
    full = tmp_path / "full"
    full.mkdir()
    (full / ".view.html.partial").symlink_to("/dev/full")  # where the page is written first
    first = refuse(
        capsys, ["trajectory", "show", "arc_left", "--html", str(full / "view.html")], tmp_path / "o", "view"
    )
    assert "is the disk full" in first and not (full / "view.html").exists()
