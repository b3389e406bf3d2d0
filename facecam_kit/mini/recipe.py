"""FaceCam-mini's recipes: every number of a ``train-mini`` run (:mod:`facecam_kit.mini.stages` runs them).

A recipe (:class:`MiniRecipe`) holds every number. One is named (and :data:`SMOKE`, for the tests):

* :data:`SCALE`: the shipped models' (``data_samples/facecam_mini``), the recipe of the scale
  experiment (issue 20), where scale is really ambiguous:
  cameras at several distances and aim points (``data.studio.VARIED_RIG``), a scene scale
  log-uniform in [0.5, 2], the official data rules (zoom and pan included) and the same camera
  information for every model (the extrinsics are told the intrinsics); a sharp VAE that must pass
  a gate (:func:`vae_gate`) before any network trains; four arms (FaceCam's landmarks, ReCamMaster's
  extrinsics, FactorPortrait's Plücker rays, and extrinsics told the scale), each the same latent
  UNet (:mod:`facecam_kit.mini.unet`, issue 36), two seeds of the landmark and extrinsic arms.

Earlier recipes trained Wan DiTs that never rendered a face (kit-v1, issue 11; reach, and the
scale recipe's own DiTs, issue 20); their history is in ``docs/mini_probes.md``.

Taught in notebook 09 (FaceCam-mini).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from facecam_kit.assets import DATA_DIR
from facecam_kit.spec import CAMERA_KINDS, TEMPORAL_COMPRESSION, vae_compression


@dataclass(frozen=True)
class MiniRecipe:
    """Every number of a FaceCam-mini recipe (module docstring)."""

    name: str
    size: int = 96
    num_frames: int = 9
    capture_frames: int = 17
    cameras: int = 8
    train_heads: int = 12
    #: held-out heads (``experiment.held_out_head``, seeded by ``test_seed``): the test and the gate
    test_heads: int = 4
    studio_seed: int = 0
    test_seed: int = 1000
    #: the studio's cameras: "arc" (aimed at the head from one distance) or "varied"
    #: (``data.studio.VARIED_RIG``: several distances and aim points)
    rig: str = "arc"
    scene_scale_range: tuple[float, float] = (0.7, 1.4)
    samples_per_capture: int = 48
    #: the dataset's rules: "official" (the official recipe) or "kit-v1" (``data.dataset.KIT_V1``)
    rules: str = "official"
    #: the condition drawn at this many times the size and averaged down (1: the official pixels)
    supersample: int = 1
    #: the VAE: ``mini.vae.MINI_VAE_CONFIG`` with these settings changed
    vae: dict = field(default_factory=dict)
    vae_steps: int = 900
    vae_batch: int = 2
    #: frames per VAE training clip (4k+1, at most num_frames: the VAE is causal and convolutional)
    vae_frames: int = 9
    #: the square each VAE training clip is cut to (None: the whole frame)
    vae_crop: int | None = None
    vae_lr: float = 1e-3
    vae_items_per_capture: int = 24
    #: None, or the gate the VAE must pass before any DiT trains: ``psnr_db`` on held-out targets and
    #: on their condition videos, ``detect_share`` of the detector's ceiling on round trips, the
    #: ``ceiling`` the detector must reach on the ground truth, over ``heads`` held-out heads
    gate: dict | None = None
    #: the network every arm trains (``mini.unet.MiniUNet``): its widths; its training
    #: (``mini.unet_training``): steps, batch, learning rate, the share of samples at s = 1
    unet_widths: tuple[int, ...] = (32, 64, 128)
    unet_steps: int = 4000
    unet_batch: int = 8
    unet_lr: float = 5e-4
    mean_share: float = 1 / 3
    #: the sampler (``mini.pipeline``): steps, and the noise level its first step lands on
    sampler_steps: int = 8
    sampler_start: float = 0.4
    #: arm name -> TrainConfig settings that make it (the camera condition and how it is told)
    arms: dict = field(default_factory=lambda: {kind: {"camera": kind} for kind in CAMERA_KINDS})
    seeds: tuple[int, ...] = (0,)
    #: arm -> its seeds, for arms trained on fewer than ``seeds`` (the rest train every seed)
    arm_seeds: dict = field(default_factory=dict)
    #: the test (recipes with a gate; None: ``mini.experiment``'s): sweep trajectories, pure
    #: rotations, scales, ReCamMaster presets of Table 2, and the denoising steps of each video
    sweep: tuple[str, ...] | None = None
    rotations: tuple[str, ...] | None = None
    scales: tuple[float, ...] | None = None
    presets: tuple[str, ...] | None = None
    #: the scales the seeds after the first are tested at (Table 2's presets always; None: every one)
    seed_scales: tuple[float, ...] | None = None
    #: the scales whose scenes dlib scores for identity (None: every scene)
    identity_scales: tuple[float, ...] | None = None
    #: evaluation processes at once, each on a part of the held-out heads and its share of the threads
    eval_jobs: int = 2

    def run_name(self, arm: str, seed: int) -> str:
        """The run folder of an (arm, seed)."""
        return f"{arm}_seed{seed}"

    def seeds_of(self, arm: str) -> tuple[int, ...]:
        """The training seeds of ``arm``."""
        return tuple(self.arm_seeds.get(arm, self.seeds))

    def runs(self) -> list[tuple[str, int]]:
        """Every (arm, seed) this recipe trains, seed by seed (the first seed of every arm first)."""
        return [(arm, seed) for seed in self.seeds for arm in self.arms if seed in self.seeds_of(arm)]

    def data_options(self) -> dict:
        """The dataset's rule arguments (``data.dataset.RULES``), as JSON values."""
        options = {} if self.supersample == 1 else {"supersample": self.supersample}
        if self.frames_per_latent != TEMPORAL_COMPRESSION:  # stitching cuts on its VAE's latent frames
            options["frames_per_latent"] = self.frames_per_latent
        if self.rules == "official":
            return options
        from facecam_kit.data.dataset import KIT_V1 as rules

        return json.loads(json.dumps(rules | options))

    @property
    def condition(self) -> str:
        """The landmark condition its models learnt: "anchor" (official) or "per_frame" (kit-v1)."""
        return self.data_options().get("condition", "anchor")

    @property
    def latent_scale(self) -> int:
        """Pixels per latent along a side: 2 per downsampling stage of its VAE."""
        return vae_compression(self.vae_config()["temperal_downsample"])[1]

    @property
    def frames_per_latent(self) -> int:
        """Frames per latent frame after the first: 2 per stage of its VAE that downsamples time."""
        return vae_compression(self.vae_config()["temperal_downsample"])[0]

    def scene_options(self) -> dict:
        """``experiment.make_scene``'s ``condition``, ``latent_scale``, ``supersample`` and
        ``frames_per_latent``: test scenes conditioned as its models learnt."""
        grid = dict(latent_scale=self.latent_scale, frames_per_latent=self.frames_per_latent)
        return dict(condition=self.condition, supersample=self.supersample, **grid)

    def sweep_scenes(self, heads, trajectories=None, rotations=None, scales=None, setting="sweep", progress=False):
        """Test scenes of held-out ``heads`` (how many, or which), at its size, frames, test seed and
        latent grid, with anchor conditions: ``experiment.make_sweep`` along ``trajectories``, pure
        ``rotations`` and ``scales`` (the recipe's test unless given; Table 2: its ``presets``, no
        rotations, scale 1 and ``setting="table2"``). Returns (scenes, dropped)."""
        from facecam_kit.mini import experiment as ex

        grid = {k: v for k, v in self.scene_options().items() if k != "condition"}
        return ex.make_sweep(
            heads,
            or_default(trajectories, or_default(self.sweep, ex.SWEEP)),
            or_default(rotations, or_default(self.rotations, ex.ROTATIONS)),
            or_default(scales, or_default(self.scales, ex.SCALES)),
            self.size,
            self.num_frames,
            self.test_seed,
            progress=progress,
            setting=setting,
            **grid,
        )

    def studio_rig(self) -> dict | None:
        """``make_studio``'s ``rig``: None for the arc."""
        if self.rig == "arc":
            return None
        from facecam_kit.data.studio import VARIED_RIG

        return VARIED_RIG

    def vae_config(self) -> dict:
        """The VAE's AutoencoderKLWan arguments."""
        from facecam_kit.mini.vae import MINI_VAE_CONFIG

        return {**MINI_VAE_CONFIG, **self.vae}


#: the scale experiment (issue 20; module docstring)
SCALE = MiniRecipe(
    "scale",
    train_heads=16,
    test_heads=12,
    rig="varied",
    scene_scale_range=(0.5, 2.0),
    # the official drawing at 384 px seen at 96: drawn at 96 its 1-px mesh on a 40-px face is aliased
    # noise that a 4x-by-4x area average and cubic upsampling keep at 21 dB; drawn at 4x, 26.5 dB
    supersample=4,
    # 5-frame clips, each frame its own latent frame (time / 1): a VAE that groups frames loses
    # sharpness on every frame but the first of a group (1,000 steps on 9-frame clips, held-out
    # targets: time / 4 21.6 dB, time / 2 22.5 with the second frame of each pair 2 dB below the
    # first, time / 1 24.8 with every frame alike): the network re-renders frame by frame.
    # Space / 4 (a 24 x 24 latent at 96 px), trained on 48 x 48 crops; 32 latent channels (64 gain
    # 0.3 dB on targets and lose 0.2 on conditions at 1,000 steps)
    num_frames=5,
    vae={"z_dim": 32, "dim_mult": [1, 2, 4], "temperal_downsample": [False, False]},
    vae_steps=4500,
    vae_batch=4,
    vae_frames=5,
    vae_crop=48,
    vae_lr=2e-3,
    gate={"psnr_db": 26.0, "detect_share": 0.9, "ceiling": 0.9, "heads": 4},
    # the network (widths 32-64-128, 2.77 M parameters) and its steps, sized to the 2 hours (issue 36):
    # two networks train at once on one thread each, 0.18-0.20 s a step (20-minute probes: 6,055 and
    # 5,978 steps, docs/mini_probes.md), so three rounds of 5,500 steps take about 55 min beside the
    # VAE (35 min), the studio, the latent cache and the evaluation
    unet_steps=5500,
    arms={
        "landmarks": {"camera": "landmarks"},
        "extrinsics": {"camera": "extrinsics", "camera_intrinsics": True},
        "plucker": {"camera": "plucker"},
        "extrinsics_told": {"camera": "extrinsics", "camera_intrinsics": True, "camera_units": "head"},
    },
    seeds=(0, 1),
    arm_seeds={"plucker": (0,), "extrinsics_told": (0,)},
    # the test cut to the budget (measured: scoring is 0.56 s a scene-row, 0.19 without dlib's
    # identity): five sweep moves (orbit_right, truck_left and pedestal_down, mirror images, and
    # dolly_out left out), one pure rotation, the second seed at the ends and the middle of the
    # sweep, identity at scale 1 (Table 1 and Table 2)
    sweep=("orbit_left", "orbit_up", "dolly_in", "truck_right", "pedestal_up"),
    rotations=("tilt_up",),
    seed_scales=(0.5, 1.0, 2.0),
    identity_scales=(1.0,),
)
#: the scale recipe at toy size, to run every stage in seconds (tests/test_mini.py); its gate only
#: checks that the numbers are measured
SMOKE = replace(
    SCALE,
    name="smoke",
    size=64,
    num_frames=5,
    capture_frames=5,
    cameras=3,
    train_heads=2,
    test_heads=2,
    samples_per_capture=2,
    vae={**SCALE.vae, "base_dim": 8},
    vae_steps=2,
    vae_batch=1,
    vae_frames=5,
    vae_items_per_capture=1,
    gate={"psnr_db": 0.0, "detect_share": 0.0, "ceiling": 0.0, "heads": 1},
    unet_widths=(16, 32),
    unet_steps=2,
    unet_batch=2,
    sampler_steps=2,
    sweep=("dolly_in",),
    rotations=("tilt_up",),
    scales=(0.5, 2.0),
    seed_scales=(2.0,),
    identity_scales=(2.0,),
    presets=("zoom_in",),
)
RECIPES = {r.name: r for r in (SCALE, SMOKE)}
#: the recipe of the models in data_samples/facecam_mini; the demo and notebook 06 generate at its size
SHIPPED = SCALE
SIZE = SHIPPED.size
#: the frames the Generate button and the demo re-render: the network goes frame by frame, so a
#: video of any length (the studio's 17-frame capture is 33 here, as the paper's clips are longer)
GENERATE_FRAMES = 33
#: FaceCam-mini at GPU size (``python -m facecam_kit gpu-check``, stage "mini"): twice the
#: resolution, a network twice as wide, a batch four times as large, trained for a fixed number of steps
GPU_RECIPE = dict(
    size=2 * SHIPPED.size,
    num_frames=SHIPPED.num_frames,
    heads=4,
    samples_per_item=16,
    batch=32,
    steps=2000,
    widths=tuple(2 * w for w in SHIPPED.unet_widths),
)
SEED = 0
OUT_DIR = DATA_DIR / "facecam_mini"


def or_default(value, default):
    """``value``, or ``default`` where a recipe leaves it None."""
    return default if value is None else value
