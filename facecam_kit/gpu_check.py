"""``python -m facecam_kit gpu-check``: every GPU claim of the kit, measured by one prepared command.

A lent GPU comes for minutes (about 15 in all, 10 a command) with nothing downloadable on it, so
the measurements (:mod:`facecam_kit.gpu_stages`) are written here, run on the CPU at tiny sizes by
the test suite (``--dry-run``), and on a GPU run back to back in at most ``--budget`` seconds
(8 minutes), with random weights built from configurations:

1. ``render``: gsplat against the PyTorch rasteriser on the same proxy head and cameras (PSNR,
   ms per 480 px frame each) and the official condition path (render, MediaPipe, draw) per
   81-frame video (notebook 05);
2. ``step_wan22``, ``step_wan21``: one denoising step with CFG (two passes) in bf16 at full size,
   a Wan2.2-I2V-A14B expert at 81x704x480 with FaceCam's input layout and Wan2.1-1.3B with
   ReCamMaster's camera layers at 81x480x832: seconds, peak memory, achieved TFLOP/s against
   :mod:`facecam_kit.model.flops`, the projected 50 steps against their lower bound (notebook 06);
3. ``low_vram``: the same 14B expert in the FaceCam pipeline with model CPU offload and VAE
   tiling (``render --low-vram``): peak GPU memory and seconds per step;
4. ``train_plain``, ``train_fsdp2``: steps of Wan2.1-1.3B (ReCamMaster preset) at 81x480x832 in
   bf16 with activation checkpointing under the kit's trainer, as one plain process and under
   ``accelerate launch`` with ``configs/accelerate/fsdp2.yaml`` at world size 1;
5. ``mini``: FaceCam-mini at GPU size (``mini.recipe.GPU_RECIPE``) trained for a fixed number
   of steps, and its generation time per clip;
6. ``render_job``: the main job, ``render`` on the bundled clip with the tiny random pipeline;
7. ``loader_write``, ``loader_read`` (if time is left): a random 14B expert written in the
   official key layout and read back through :mod:`facecam_kit.model.weights`.

Each stage runs in a process of its own, forked from a server that imported torch and diffusers
once, with its own time limit: a stage that raises, runs out of memory, crashes or hangs is
recorded with its error, and the next one runs. Results go to ``OUT/report.json`` (each stage's
output in ``OUT/stages.log``) and, on a GPU, to a dated section of ``docs/benchmarks.md``. OUT is
new, empty or an earlier gpu-check's (``outputs.check_own_folder``); the stages work in a hidden
folder of the run's own inside it, removed at the end.

Large models are created directly on the GPU (PyTorch's default-device context: every
parameter is allocated and initialised there; their size is counted on the meta device first),
never on the CPU, where a 14B model alone would take the whole budget.

The numbers are the ones notebooks 05 (gsplat/CPU parity) and 06 (FLOPs, step time, memory) discuss.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from facecam_kit.gpu_stages import STAGES
from facecam_kit.outputs import check_own_folder, check_writable_folder

ROOT = Path(__file__).resolve().parent.parent
FSDP2_CONFIG = ROOT / "configs" / "accelerate" / "fsdp2.yaml"
BENCHMARKS_DOC = ROOT / "docs" / "benchmarks.md"
#: modules the stage server imports once, so that no stage pays for them
PRELOAD = ("torch", "diffusers", "facecam_kit.model.pipeline", "facecam_kit.train.trainer", "facecam_kit.jobs")


def _opt(help_: str, default=None):
    return field(default=default, metadata={"help": help_})


@dataclass
class GpuCheckOptions:
    """Options of ``python -m facecam_kit gpu-check``."""

    out: Path = _opt("where report.json and stages.log go", Path("outputs/gpu_check"))
    dry_run: bool = _opt("the same stages at tiny sizes on the CPU (what the test suite runs)", False)
    docs: Path | None = _opt(
        "append the dated section to this Markdown file (default on a GPU: docs/benchmarks.md; "
        "the dry run writes none unless given)"
    )
    budget: float = _opt("seconds for all stages together", 480.0)
    only: str | None = _opt("comma-separated stage names to run (default: all)")


# -- running the stages -------------------------------------------------------------------------
def _record(fn, dry: bool, work: Path, result: Path) -> None:
    """Run ``fn`` and write its results, or its error, to ``result`` (JSON)."""
    work.mkdir(parents=True, exist_ok=True)
    try:
        import torch

        if torch.cuda._is_in_bad_fork():  # CUDA started in the stage server: it cannot be used after a fork
            raise RuntimeError("CUDA was initialised before this stage's process was forked; run the stage alone")
        record = {"results": fn(dry, work)}
    except BaseException as e:  # the stage's failure is its finding; the orchestrator goes on
        lines = str(e).strip().splitlines()
        error = type(e).__name__ + (f": {lines[0]}" if lines else "")
        record = {"error": error, "traceback": traceback.format_exc()[-4000:]}
        print(record["traceback"], file=sys.stderr)  # into the stage's log
    tmp = result.with_suffix(".partial")
    tmp.write_text(json.dumps(record, default=str))
    tmp.replace(result)


def _stage_process(stage_name: str, fn, dry: bool, work: Path, result: Path, log: Path) -> None:
    """A stage's process: its own session (killed as a group on timeout), output to its log."""
    os.setsid()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if dry:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the dry run is the CPU path, GPU or not
    if fn is None:  # started by `accelerate launch`, in a process of its own
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(FSDP2_CONFIG)]
        cmd += ["--num_processes", "1", "-m", "facecam_kit.gpu_check", stage_name, str(work), str(result)]
        sys.stdout.flush()
        code = subprocess.call(cmd + (["--dry-run"] if dry else []), stdout=1, stderr=2)
        if code and not result.is_file():
            result.write_text(json.dumps({"error": f"accelerate launch exited with code {code}"}))
        return
    _record(fn, dry, work, result)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_stages(stages, dry: bool, out: Path, budget_s: float, say=print) -> list[dict]:
    """Run ``stages`` one after another, each in its own process and time limit, within ``budget_s``.

    Returns one record per stage: name, title, status (ok, failed, timed out, crashed, skipped),
    seconds, limit_s, results (the stage's numbers) or error (one line; the log's tail in
    ``log_tail``). Each stage's output goes to ``out/stages.log``, under a line naming it.
    """
    import multiprocessing

    # the server must not start CUDA (a forked child could not use it): a CUDA check there asks NVML instead
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD) + ["facecam_kit.gpu_check"])
    out.mkdir(parents=True, exist_ok=True)
    work_root = Path(tempfile.mkdtemp(prefix=".gpu-check-work-", dir=out))  # this run's own: removed whole
    combined = out / "stages.log"
    combined.write_text("")
    start, records = time.perf_counter(), []
    for i, stage in enumerate(stages, 1):
        left = budget_s - (time.perf_counter() - start)
        own = stage.dry_limit_s if dry else stage.limit_s
        limit = min(own, left)
        record = {"name": stage.name, "title": stage.title, "limit_s": round(limit, 1)}
        # too little left to start anything (a stage's process, its imports), or an optional stage cut short
        if left < (5 if dry else 30) or (stage.optional and limit < own):
            record |= {"status": "skipped", "seconds": 0.0, "error": f"out of time ({left:.0f} s of the budget left)"}
            records.append(record)
            say(f"[{i}/{len(stages)}] {stage.name}: skipped, {record['error']}")
            continue
        work, log = work_root / stage.name, work_root / f"{stage.name}.log"
        result = work_root / f"{stage.name}.result.json"
        result.unlink(missing_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        fn = None if stage.launcher == "accelerate" else stage.fn
        p = ctx.Process(target=_stage_process, args=(stage.name, fn, dry, work, result, log), daemon=False)
        t0 = time.perf_counter()
        p.start()
        p.join(limit)
        if p.is_alive():
            _kill_group(p.pid)
            p.join()
            record |= {"status": "timed out", "error": f"no result within its {limit:.0f} s limit"}
        elif result.is_file():
            done = json.loads(result.read_text())
            record |= {"status": "ok", "results": done["results"]} if "results" in done else {"status": "failed"}
            if "error" in done:
                record |= {"error": done["error"], "traceback": done.get("traceback", "")}
        else:
            how = f"signal {-p.exitcode}" if p.exitcode < 0 else f"exit code {p.exitcode}"
            record |= {"status": "crashed", "error": f"the stage's process died ({how}) without a result"}
        _kill_group(p.pid)  # anything the stage left running (a launcher's workers)
        record["seconds"] = round(time.perf_counter() - t0, 2)
        if record["status"] != "ok":
            record["log_tail"] = _tail(log)
        with combined.open("a") as f:  # one file for all: a lent machine may hand back only a few
            f.write(f"==== {stage.name}: {record['status']} in {record['seconds']:.1f} s ====\n")
            f.write(log.read_text(errors="replace") if log.is_file() else "")
        records.append(record)
        say(f"[{i}/{len(stages)}] {stage.name}: {record['status']} in {record['seconds']:.1f} s; {_summary(record)}")
    shutil.rmtree(work_root, ignore_errors=True)
    return records


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _summary(record: dict) -> str:
    if record["status"] != "ok":
        return record.get("error", "")
    return ", ".join(f"{k} {_fmt(v)}" for k, v in record["results"].items())


def environment(dry: bool) -> dict:
    """The machine and the versions the numbers belong to."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    env = {"mode": "dry run (CPU, tiny sizes)" if dry else "GPU", "python": sys.version.split()[0]}
    for pkg in ("torch", "diffusers", "gsplat", "accelerate", "transformers", "mediapipe"):
        try:
            env[pkg] = version(pkg)
        except PackageNotFoundError:
            env[pkg] = None
    env["cuda"] = torch.version.cuda
    env["cpu_cores"] = os.cpu_count()
    env["device"], env["driver"], env["gpu_memory"] = "cpu", None, None
    if not dry:  # from nvidia-smi: this process creates no CUDA context (the stages are its children)
        q = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
        try:
            line = subprocess.run(q, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
            env["device"], env["driver"], env["gpu_memory"] = (x.strip() for x in line.split(","))
        except (OSError, subprocess.TimeoutExpired, IndexError, ValueError):
            env["device"] = "a CUDA GPU (nvidia-smi did not answer)"
    return env


def markdown_section(report: dict) -> str:
    """The dated section of ``docs/benchmarks.md`` for a report: its machine, versions and every stage."""
    env = report["environment"]
    versions = ", ".join(f"{k} {env.get(k)}" for k in ("torch", "cuda", "diffusers", "gsplat", "accelerate"))
    lines = [
        f"## {report['date']}: {env['device']} ({env['mode']})",
        "",
        f"Driver {env.get('driver')}; {versions}; Python {env['python']}, {env['cpu_cores']} CPU cores. "
        f"`python -m facecam_kit gpu-check{' --dry-run' if report['dry_run'] else ''}`: "
        f"{report['total_s']:.0f} s of a {report['budget_s']:.0f} s budget.",
        "",
        "| stage | status | s | results |",
        "|---|---|---:|---|",
    ]
    for r in report["stages"]:
        text = _summary(r).replace("|", "/")
        lines.append(f"| `{r['name']}`: {r['title']} | {r['status']} | {r['seconds']:.1f} | {text} |")
    return "\n".join(lines) + "\n"


def _is_report(path: Path) -> bool:
    """Whether ``path`` is a report.json that gpu-check wrote (not a user's file of that name)."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(report, dict) and {"environment", "stages", "budget_s"} <= set(report)


def run_gpu_check(opts: GpuCheckOptions) -> list[Path]:
    """The ``gpu-check`` job: every stage (or ``--only`` some) within the budget; writes
    ``OUT/report.json``, ``OUT/stages.log``, and (on a GPU, or with ``--docs``) the Markdown
    section. Returns the files written. Raises ValueError without CUDA (unless ``dry_run``)."""
    import torch

    names = [s.name for s in STAGES]
    wanted = names if opts.only is None else [n.strip() for n in opts.only.split(",") if n.strip()]
    unknown = sorted(set(wanted) - set(names))
    if unknown or not wanted:
        raise ValueError(f"--only takes stage names among {', '.join(names)}; got {opts.only!r}")
    if not (isinstance(opts.budget, int | float) and 0 < opts.budget < 1e6):
        raise ValueError(f"--budget must be a number of seconds > 0, got {opts.budget!r}")
    if not opts.dry_run and not torch.cuda.is_available():
        raise ValueError(
            f"gpu-check needs a CUDA GPU and torch {torch.__version__} sees none here; "
            "--dry-run runs the same stages at tiny sizes on the CPU"
        )
    out = check_own_folder(opts.out, "report.json", "--out", "gpu-check report", _is_report)
    docs = opts.docs if opts.docs is not None or opts.dry_run else BENCHMARKS_DOC
    if docs is not None:  # before any stage: a folder or a read-only place would fail only at the end
        docs = Path(docs)
        check_writable_folder(docs.parent, "--docs")
        if docs.exists() and not (docs.is_file() and os.access(docs, os.W_OK)):
            raise ValueError(f"--docs {docs} is not a writable file; name a Markdown file to append the section to")
    stages = [s for s in STAGES if s.name in wanted]
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    env = environment(opts.dry_run)
    print(
        f"gpu-check{' --dry-run' if opts.dry_run else ''} on {env['device']}: {len(stages)} stages, {opts.budget:.0f} s"
    )
    t0 = time.perf_counter()
    records = run_stages(stages, opts.dry_run, out, opts.budget)
    report = {
        "date": date,
        "dry_run": opts.dry_run,
        "environment": env,
        "budget_s": opts.budget,
        "total_s": round(time.perf_counter() - t0, 1),
        "stages": records,
    }
    files = [out / "report.json"]
    files[0].write_text(json.dumps(report, indent=1, default=str) + "\n")
    files.append(out / "stages.log")
    if docs is not None:
        docs.parent.mkdir(parents=True, exist_ok=True)
        before = docs.read_text() if docs.is_file() else "# Benchmarks\n"
        docs.write_text(before.rstrip("\n") + "\n\n" + markdown_section(report))
        files.append(docs)
    ok = sum(r["status"] == "ok" for r in records)
    print(f"{ok} of {len(records)} stages ok in {report['total_s']:.0f} s")
    return files


def main(argv=None) -> int:
    """A stage under ``accelerate launch``: ``python -m facecam_kit.gpu_check STAGE WORK RESULT [--dry-run]``."""
    p = argparse.ArgumentParser(prog="python -m facecam_kit.gpu_check", description=main.__doc__)
    p.add_argument("stage", choices=[s.name for s in STAGES])
    p.add_argument("work", type=Path)
    p.add_argument("result", type=Path)
    p.add_argument("--dry-run", action="store_true")
    a = p.parse_args(argv)
    _record(next(s.fn for s in STAGES if s.name == a.stage), a.dry_run, a.work, a.result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
