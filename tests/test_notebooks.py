"""Every notebook runs headlessly (papermill, FAST=True) and its claims hold in metrics.json."""

import json
from pathlib import Path
from queue import Empty
from time import monotonic

import nbformat
import papermill as pm
import pytest
from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets import Type

pytestmark = pytest.mark.notebooks


class IPCKernelManager(AsyncKernelManager):
    """Kernels over Unix sockets, not TCP ports. Over TCP, jupyter_client picks free ports, closes
    them and hands them to the kernel; in that gap another test's process (torch.distributed's
    rendezvous, a second kernel) can take one, and the client then waits for ever on a message
    that went elsewhere (seen twice under two xdist workers: client and kernel idle in epoll)."""

    def __init__(self, **kwargs):
        super().__init__(transport="ipc", **kwargs)
        self.client_factory = SlicedPollClient


class SlicedPollChannel(AsyncZMQSocketChannel):
    """A channel that waits for a message in one-second polls up to the timeout, not in one poll.
    A single poll can miss the wake-up of a message that has arrived (nbclient's waits on the shell
    reply of a cell that displays widgets, jupyter/nbclient#312): seen twice in one session on
    notebook 03's keyframe editor, client and kernel idle until the 900 s cell timeout ended the
    poll and found the reply waiting."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            poll = 1.0 if deadline is None else min(1.0, max(0.0, deadline - monotonic()))
            try:
                return await super().get_msg(timeout=poll)
            except Empty:
                if deadline is not None and monotonic() >= deadline:
                    raise


class SlicedPollClient(AsyncKernelClient):
    shell_channel_class = Type(SlicedPollChannel)
    iopub_channel_class = Type(SlicedPollChannel)


NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# metric -> check, per notebook (the thresholds of the issues that introduced them)
CLAIMS = {
    "01_scale_ambiguity": {
        "max_projection_diff_px": lambda v: v <= 1e-6,
        "extrinsic_shift_ratio": lambda v: v >= 3,
        "target_face_shift_diff_px": lambda v: v > 50,  # the two targets end ~122 px apart
        "landmark_map_max_abs_diff": lambda v: v == 0,
        "extrinsics_max_abs_diff": lambda v: v < 1e-9,  # each scene's own cameras, same embedding
        "plucker_max_abs_diff": lambda v: v < 1e-9,
        "landmark_map_diff_fraction": lambda v: v > 0.01,  # ~6% of the pixels
    },
    "02_pnp_from_landmarks": {
        "real_photo_landmarks": lambda v: v == 478,
        "real_photo_reproj_rmse_px": lambda v: 0 < v < 2,
        "pnp_rot_err_deg_1px": lambda v: v < 1,
        "dlt_vs_opencv_rot_diff_deg": lambda v: v < 0.1,
        "essential_rot_err_deg": lambda v: v < 1,
    },
    "04_augmentation_strategies": {
        "aug_landmark_consistency_px": lambda v: v <= 2,
        "stitch_rotation_deg": lambda v: v > 5,  # the cut really rotates the viewpoint
        "stitch_rotation_error_deg": lambda v: v < 2,  # and PnP recovers the cameras' rotation
        "pan_rotation_deg": lambda v: v < 1,
        # the official sample: the anchor condition is constant per segment once the warp is undone
        "anchor_condition_max_change_px": lambda v: v < 1e-3,
        "anchor_condition_max_pixel_change": lambda v: v == 0,
        "per_frame_condition_max_change_px": lambda v: v > 1,  # the earlier condition follows the head
        "border_vs_background": lambda v: v < 12,  # margins take the background's colour
        # a centred face's offset (s - 1)(1/2 - pos) over 300 seeded samples: the official +-12.5%
        "face_offset_max_abs": lambda v: 0.1 < v <= 0.125,
        "face_offset_std": lambda v: abs(v - 0.25 / 6) < 0.004,
        "face_offset_ks": lambda v: v < 0.06,
    },
    "05_proxy_head": {
        "proxy_detect_rate": lambda v: v >= 0.9,
        # the issue expects <= 3 px: the notebook asserts it in full mode (the 105-view calibration);
        # FAST calibrates on 18 views and 9 frames (3.6 px here), so this guards against regressions
        "analytic_vs_detected_px": lambda v: v <= 4.5,
        "analytic_vs_detected_triangulated_px": lambda v: v <= 6,
        "analytic_vs_detected_mesh_px": lambda v: v <= 8,
        "detector_jitter_px": lambda v: 0 < v < 2,
        "analytic_speedup": lambda v: v >= 20,
        "studio_views": lambda v: v == 4,  # FAST mode; 16 in full mode
        "personalised_gain_px": lambda v: v > 0,
        "render_backend": lambda v: v in ("cpu", "gsplat"),  # the backend used, never "auto"
    },
    "06_model_and_inference": {
        "generated_frames": lambda v: v == 33,  # FaceCam-mini's whole trajectory (81 with real weights)
        # FaceCam-mini's UNet sees every frame's latent at once: 33 frames of (96 / 4)^2 positions
        "positions_per_forward": lambda v: v == 33 * 24 * 24,
        "random_weights": lambda v: v is False,  # FaceCam-mini, trained
        # along the default orbit, a head it never saw: a face in 27 of 33 frames, 15.6 dB (copying
        # the source: 11.3); over issue 36's bar of 80% for faces, under its 18 dB (Summary). The
        # VAE passed the 33 frames at once instead of in clips of 5: 20 frames with a face
        "faces": lambda v: v >= 24,
        "psnr_db": lambda v: v > 14,
        "flicker": lambda v: 0 < v,
    },
    "07_camera_representations": {
        # each scene's own cameras: extrinsics and rays agree across scales, landmark maps do not
        "extrinsics_max_diff_across_scales": lambda v: v < 1e-9,
        "plucker_max_diff_across_scales": lambda v: v < 1e-9,
        "landmarks_diff_fraction_across_scales": lambda v: v > 0.01,  # ~5% of the pixels
        # the similarity-related pair: same video, same landmark maps, different extrinsics
        "similarity_landmarks_max_diff": lambda v: v == 0,
        "similarity_extrinsics_max_diff": lambda v: v > 0.1,
        "anchor_psnr_valid_db": lambda v: v > 10,
        "anchor_valid_fraction": lambda v: 0.2 < v < 1,
    },
    "03_landmark_camera_condition": {
        "condition_frames": lambda v: v == 21,  # FAST mode; 81 in full mode
        "editor_keyframes": lambda v: v == 5,  # arc_left as 5 keyframes; adding at frame 0 is refused
        "editor_saved_accepted": lambda v: v is True,  # the editor's file is what render --trajectory loads
        # a studio clip's camera recovered from its landmarks (docs/cameras.md: 2-4 degrees on orbits)
        "clone_rot_err_deg": lambda v: v < 6,
        "clone_trans_err": lambda v: v < 0.15,
        "clone_landmark_px": lambda v: v < 12,  # 6.7 px: where PnP puts the head centre varies with the face
        "clone_editor_keyframes": lambda v: v == 5,  # the cloned file, a keyframe a frame, as five to edit
    },
    "08_training": {
        "cuts_on_latent_boundaries": lambda v: v is True,
        "high_expert_loss_share": lambda v: 0.08 < v < 0.12,  # t >= 900: 36% of the draws, ~10% of the loss
        "euler_step_error": lambda v: v < 1e-5,  # the sampler undoes a training draw
        "facecam_trainable_share_14b": lambda v: 0.25 < v < 0.35,  # 4.20 of 14.29 B
        "loss_drop": lambda v: v > 0,  # the seeded run lowers the loss on fixed draws
        "full_8gpu_gb": lambda v: 60 < v < 80,  # 66.2 GB: one 14B expert fits an 80 GB GPU from 8 GPUs on
    },
    "09_facecam_mini": {  # the shipped scale recipe's stored results; FAST regenerates one move of head 0
        "same_pixels_across_scales": lambda v: v is True,  # a training triplet at scales 0.5 and 2
        "translation_ratio": lambda v: abs(v - 4) < 1e-4,  # ... whose metric translations differ 4x
        "gate_psnr_targets_db": lambda v: v >= 26,  # the gate, on held-out heads
        "gate_psnr_conditions_db": lambda v: v >= 26,
        "gate_detect_round_trip": lambda v: v >= 0.9,  # 90% of the truth's rate, which is 100%
        "gate_detect_truth": lambda v: v >= 0.9,  # the detector's ceiling at 96 px
        "regenerated_videos": lambda v: v >= 24,  # every row and control at 3 scales
        "regen_psnr_diff_db": lambda v: v < 0.05,  # the stored scores are what the models do
        "regen_centre_diff_px": lambda v: v < 0.5,
        "rotation_spread_db": lambda v: v < 1e-3,  # a pure rotation's videos do not change with scale
        "sweep_scenes_per_scale": lambda v: v == 60,  # 12 heads x 5 moves: none lost the face at any scale
        # the gaps whose paired interval excludes 0 (row minus FaceCam; the others are not findings)
        **{
            f"gap_psnr_{row}_x{s}": lambda v: v[2] < 0  # behind FaceCam on PSNR at every scale
            for row in ("FaceCam*", "extrinsics", "plucker", "extrinsics_told")
            for s in ("0.5", "1", "2")
        },
        **{
            f"gap_centre_px_{row}_x{s}": lambda v: v[1] > 0  # the head placed further off at every scale
            for row in ("extrinsics", "plucker", "extrinsics_told")
            for s in ("0.5", "1", "2")
        },
        # the issues' expectations, as the run's intervals decide them (section 10)
        "expect_facecam_psnr": lambda v: v == "missed",  # under 22 dB
        "expect_facecam_faces": lambda v: v == "unresolved",  # 76% [68, 84] of frames against 80%
        "expect_facecam_growth": lambda v: v == "unresolved",  # 1.31x [1.10, 1.59] at 0.5 against 1.5x
        "expect_facecam_rot_err": lambda v: v == "missed",  # blurred faces: PnP far from the truth's
        "expect_extrinsics_growth": lambda v: v == "missed",
        "expect_plucker_growth": lambda v: v == "missed",
        "expect_facecam_placement": lambda v: v == "held",  # issue 36's: ahead of both at 0.5 and 2
        "expect_facecam_star_close": lambda v: v == "unresolved",  # 1.42 dB behind [0.94, 1.99]
        "expect_told_close": lambda v: v == "missed",  # the metric models lose the head at 0.5
        # the channel layout reads its source (the DiT's swap moved its estimate by under 2%)
        # (another head's source raises its error by 3-4%; the DiT's by 0.3%)
        "source_swap_gain": lambda v: v > 0.02,
    },
}


# timings and memory: recorded for the README and the benchmarks, never asserted (they depend on the machine)
RECORDED = {
    "03_landmark_camera_condition": ["preview_latency_ms", "editor_preview_ms", "editor_view_ms", "clone_seconds"],
    "04_augmentation_strategies": ["loader_samples_per_s"],
    "05_proxy_head": ["official_s_per_video", "analytic_ms_per_video", "cpu_render_ms_per_frame"],
    "06_model_and_inference": ["seconds_per_step", "peak_memory_gb"],
    "09_facecam_mini": ["train_minutes"],  # the shipped run's stage times, reported in the README
}


def test_every_notebook_is_covered_and_committed_clean():
    names = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == sorted(CLAIMS)
    for name in names:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), name
        assert "FAST" in code[0].source and "OUTPUT_DIR" in code[0].source, name
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name} has outputs"
        assert nb.metadata.kernelspec.name == "python3", name


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_notebook_runs_and_asserts_its_claims(name, tmp_path):
    pm.execute_notebook(
        NOTEBOOKS / f"{name}.ipynb",
        tmp_path / f"{name}.ipynb",
        parameters=dict(FAST=True, OUTPUT_DIR=str(tmp_path / "out")),
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
        kernel_manager_class=IPCKernelManager,
        execution_timeout=900,  # a cell that hangs fails the test rather than the whole run
    )
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    for key, check in CLAIMS[name].items():
        assert key in metrics, f"{name}: metric {key} missing"
        assert check(metrics[key]), f"{name}: {key} = {metrics[key]}"
    missing = [key for key in RECORDED.get(name, []) if key not in metrics]
    assert not missing, f"{name}: not recorded: {missing}"
