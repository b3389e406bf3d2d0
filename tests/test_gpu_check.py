"""`python -m facecam_kit gpu-check`: the dry run measures every stage on the CPU, failures stay
inside their stage, and a machine without CUDA is refused in one line."""

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from facecam_kit.cli import main
from facecam_kit.gpu_check import BENCHMARKS_DOC, run_stages
from facecam_kit.gpu_stages import STAGES, Stage

#: every stage's numbers that must be there, with the kind each must be
EXPECTED = {
    "render": {"cpu_ms_per_frame": float, "backend_ms_per_frame": float, "condition_video_s": float},
    "step_wan22": {"seconds_per_step": float, "peak_memory_gib": float, "parameters": int},
    "step_wan21": {"seconds_per_step": float, "peak_memory_gib": float, "parameters": int},
    "low_vram": {"seconds_per_step": float, "vae_decode_s": float, "peak_memory_gib": float},
    "train_plain": {"seconds_per_step": float, "peak_memory_gib": float, "loss": float},
    "train_fsdp2": {"seconds_per_step": float, "peak_memory_gib": float, "loss": float},
    "mini": {"steps_trained": int, "train_s": float, "seconds_per_clip": float},
    "render_job": {"total_s": float, "generate_s": float, "files": int},
    "loader_write": {"write_s": float, "shards": int},
    "loader_read": {"read_convert_load_s": float, "tensors": int, "peak_host_memory_gib": float},
}


def test_the_dry_run_measures_every_stage(tmp_path, capsys):
    committed = BENCHMARKS_DOC.read_bytes()
    out, docs = tmp_path / "out", tmp_path / "benchmarks.md"
    assert main(["gpu-check", "--dry-run", "--out", str(out), "--docs", str(docs)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in report["stages"]] == [s.name for s in STAGES] == list(EXPECTED)
    for r in report["stages"]:
        assert r["status"] == "ok", (r["name"], r.get("error"), r.get("log_tail"))
        for key, kind in EXPECTED[r["name"]].items():
            value = r["results"][key]
            assert isinstance(value, kind) and math.isfinite(value) and value > 0, (r["name"], key, value)
        assert f"] {r['name']}: ok in" in printed
    logs = (out / "stages.log").read_text()
    assert all(f"==== {name}: ok in " in logs for name in EXPECTED)  # every stage's output, named
    by_name = {r["name"]: r["results"] for r in report["stages"]}
    # the parameters counted on the meta device are the model's; the loader reads back every tensor
    assert by_name["step_wan22"]["parameters"] > by_name["step_wan21"]["parameters"]  # 36 input channels
    assert by_name["loader_read"]["missing_keys"] == by_name["loader_read"]["unexpected_keys"] == 0
    # the GPU run's full-size models take the kit's input layout (shapes on the meta device): 21
    # latent frames doubled by the source video, the 16-channel target half out
    assert by_name["step_wan22"]["full_size_output"] == "1x16x42x88x60"  # 81x704x480
    assert by_name["step_wan21"]["full_size_output"] == by_name["train_plain"]["full_size_output"] == "1x16x42x60x104"
    # FSDP2's stage went through `accelerate launch` (accelerate has no FSDP on the CPU: it runs DDP there)
    assert by_name["train_plain"]["distributed_type"] == "NO"
    assert by_name["train_fsdp2"]["distributed_type"] == "MULTI_CPU" and by_name["train_fsdp2"]["processes"] == 1
    assert by_name["train_fsdp2"]["loss"] == pytest.approx(by_name["train_plain"]["loss"], rel=1e-3)  # same run
    assert 0 <= by_name["render"]["condition_frames_detected"] <= 5
    assert by_name["render_job"]["files"] == 6  # input, camera, anchor, mask, generated, run record
    assert report["environment"]["device"] == "cpu" and report["environment"]["torch"] == torch.__version__
    assert not (out / "work").exists()  # scratch (studio, checkpoints, weights) removed
    section = docs.read_text()
    assert section.startswith("# Benchmarks\n\n## ") and "(dry run (CPU, tiny sizes))" in section
    assert all(f"| `{name}`:" in section for name in EXPECTED)
    assert BENCHMARKS_DOC.read_bytes() == committed  # the dry run leaves the committed docs alone


# stage functions for the failure test: each is run in a stage process as gpu-check runs its own
def _out_of_memory(dry, work):
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


def _killed(dry, work):
    os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer ends a process


def _hangs(dry, work):
    child = subprocess.Popen(["sleep", "600"])  # a process of the stage's own, killed with it
    (work / "child.pid").write_text(str(child.pid))
    time.sleep(600)


def _fine(dry, work):
    return {"seconds_per_step": 1.5}


def test_a_failing_stage_is_recorded_and_the_next_one_runs(tmp_path):
    stages = [
        Stage("oom", "raises", _out_of_memory, 60),
        Stage("killed", "dies", _killed, 60),
        Stage("hangs", "never returns", _hangs, 60, dry_limit_s=4),
        Stage("fine", "works", _fine, 60),
    ]
    said = []
    records = run_stages(stages, True, tmp_path, budget_s=120, say=said.append)
    status = {r["name"]: r["status"] for r in records}
    assert status == {"oom": "failed", "killed": "crashed", "hangs": "timed out", "fine": "ok"}
    oom, killed, hangs, fine = records
    assert oom["error"] == "OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB"
    assert "signal 9" in killed["error"] and "4 s limit" in hangs["error"]
    assert 4 <= hangs["seconds"] < 30 and fine["results"] == {"seconds_per_step": 1.5}
    assert len(said) == 4 and said[0].startswith("[1/4] oom: failed")
    logs = (tmp_path / "stages.log").read_text()
    assert "==== oom: failed" in logs and "raise torch.OutOfMemoryError" in logs  # its traceback
    # out of budget: the stage is not started
    skipped = run_stages(stages[-1:], True, tmp_path, budget_s=2, say=said.append)
    assert skipped[0]["status"] == "skipped" and "out of time" in skipped[0]["error"]


def test_the_hanging_stage_leaves_no_process(tmp_path):
    stage = Stage("hangs", "never returns", _hangs, 60, dry_limit_s=4)
    seen = []

    def say(line):  # the run's hidden work folder goes at its end: read the pid before that
        (pid_file,) = tmp_path.glob(".gpu-check-work-*/hangs/child.pid")
        seen.append(int(pid_file.read_text()))

    run_stages([stage], True, tmp_path, budget_s=60, say=say)
    state = Path(f"/proc/{seen[0]}/status")
    assert not state.exists() or "zombie" in state.read_text()  # killed with its stage


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_says_so_in_one_line(tmp_path, capsys):
    assert main(["gpu-check", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: gpu-check needs a CUDA GPU") and "--dry-run" in err
    assert not (tmp_path / "out").exists()


def test_unknown_stage_names_are_refused(tmp_path, capsys):
    assert main(["gpu-check", "--dry-run", "--only", "render,nope", "--out", str(tmp_path)]) == 2
    assert "--only takes stage names among render, step_wan22" in capsys.readouterr().err
