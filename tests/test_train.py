"""The trainer on CPU: the recipe's numbers, the cache, presets, overfitting, DDP and resume."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate.state import AcceleratorState
from safetensors.torch import load_file

from facecam_kit.data.studio import make_studio
from facecam_kit.model.pipeline import make_scheduler, official_sigmas
from facecam_kit.train import flow_matching as fm
from facecam_kit.train.cache import CachedLatents, latent_mask
from facecam_kit.train.config import TrainConfig, load_config
from facecam_kit.train.objective import dataset_index, draw_sample_noise, flow_matching_loss, sample_positions
from facecam_kit.train.trainer import Trainer, collate, load_base

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """Each Trainer builds its own Accelerator; accelerate keeps one global state per process."""
    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    root = tmp_path_factory.mktemp("train") / "studio"
    make_studio(root, num_heads=1, num_cameras=3, num_frames=5, size=32, seed=0, progress=False)
    return root


def config(studio, out, **kw) -> TrainConfig:
    base = dict(
        output_dir=str(out),
        data_root=str(studio),
        cache_dir=str(studio.parent / "cache"),
        num_frames=5,
        samples_per_item=8,
        augment=False,
        preset="full",
        expert="high",
        tracker="none",
        progress=False,
        lr=1e-3,
        log_every=1,
    )
    return TrainConfig(**{**base, **kw})


def saved_weights(checkpoint: Path, component: str = "transformer") -> dict:
    return load_file(checkpoint / component / "diffusion_pytorch_model.safetensors")


# -- the recipe ------------------------------------------------------------------------------------
def test_training_schedule_is_the_inference_schedule_with_1000_steps():
    scheduler = make_scheduler()
    scheduler.set_timesteps(sigmas=official_sigmas(1000))
    np.testing.assert_allclose(fm.training_timesteps(), scheduler.timesteps.double().numpy(), rtol=1e-5)
    w = fm.loss_weights()
    assert w.mean() == pytest.approx(1.0) and w.min() == pytest.approx(0.0, abs=1e-12)
    assert abs(fm.training_timesteps()[w.argmax()] - 500) < 2  # the Gaussian's centre
    # the high-noise expert owns t >= 900: 358 of the 1000 shifted steps (DiffSynth's boundary 0.358)
    assert fm.expert_share("high") == pytest.approx(0.358) and fm.expert_share("low") == pytest.approx(0.642)


@pytest.mark.parametrize("sampling", ["uniform", "logit_normal"])
def test_timesteps_stay_in_the_expert_range(sampling):
    g = torch.Generator().manual_seed(0)
    for expert, inside in [("high", lambda t: t >= 900), ("low", lambda t: t < 900)]:
        t, sigma, w = fm.sample_timesteps(g, 2000, expert, sampling)
        assert bool(inside(t).all()) and torch.allclose(sigma, t / 1000)
        assert float(t.max() - t.min()) > 50  # spread over the range, not stuck at one value
        if sampling == "logit_normal":
            assert bool((w == 1).all())
    x0, eps = torch.randn(3, 4), torch.randn(3, 4)
    s = torch.tensor([0.0, 0.5, 1.0])
    torch.testing.assert_close(fm.add_noise(x0, eps, s), torch.stack([x0[0], (x0[1] + eps[1]) / 2, eps[2]]))


class VelocityOracle(torch.nn.Module):
    """A stand-in DiT that knows the answer: the true velocity on the target half, junk on the
    source half; it keeps the input it was given."""

    def __init__(self, velocity: torch.Tensor):
        super().__init__()
        self.velocity, self.seen = velocity, None

    def forward(self, x, t, emb, return_dict=False, **kwargs):
        self.seen = (x, t)
        return (torch.cat([self.velocity, torch.full_like(self.velocity, 7.0)], 2),)


def test_trainer_and_sampler_agree_on_noising_velocity_and_target_half(studio, tmp_path):
    """Noising, velocity target and the loss's target half as the trainer builds them are what the
    pipeline's scheduler undoes: a model predicting the true velocity has zero loss, and one Euler
    step of the pipeline's scheduler from the x_t it was given lands on x0."""
    cfg = config(studio, tmp_path, text_dropout=0.0)
    g = torch.Generator().manual_seed(0)
    shape = (2, 16, 3, 4, 4)
    batch = {k: torch.randn(shape, generator=g) for k in ("target", "source", "condition")}
    positions = [5, 11]
    draws = [draw_sample_noise(cfg, p, "high", shape[1:]) for p in positions]
    noise = torch.stack([d["noise"] for d in draws])
    oracle = VelocityOracle(noise - batch["target"])
    loss, _ = flow_matching_loss(oracle, batch, torch.zeros(4, 32), torch.zeros(4, 32), cfg, "high", positions)
    assert float(loss) < 1e-10  # the target half, against eps - x0
    x, t = oracle.seen
    torch.testing.assert_close(x[:, :16, 3:], batch["source"])  # the clean source in the second half
    for b, d in enumerate(draws):
        scheduler = make_scheduler()
        scheduler.set_timesteps(sigmas=fm.unshift_sigmas(d["sigma"].double().numpy()))
        assert float(scheduler.sigmas[0]) == pytest.approx(float(d["sigma"]), rel=1e-5)
        assert float(scheduler.timesteps[0]) == pytest.approx(float(t[b]), rel=1e-4)  # the DiT's timestep
        x0 = scheduler.step(oracle.velocity[b : b + 1], scheduler.timesteps[0], x[b : b + 1, :16, :3]).prev_sample
        torch.testing.assert_close(x0[0], batch["target"][b], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("camera", ["plucker", "extrinsics"])
def test_each_camera_kind_trains_on_data_its_condition_describes(studio, tmp_path, camera):
    """Plücker rays carry the zoomed and panned intrinsics; ReCamMaster's 12 numbers cannot, so the
    trainer gives the extrinsic model its samples without zoom or pan (docs/official_behaviour.md, 8.5)."""
    from facecam_kit.data.studio import load_capture

    cfg = config(studio, tmp_path, camera=camera, augment=True, data_options={"p_background": 0.0})
    trainer = Trainer(cfg)
    ds, cap = trainer.dataset(), load_capture(studio / "head_000")
    moved = [not np.allclose(ds[i]["K"].numpy(), cap.K[ds[i]["plan"].numpy()]) for i in range(4)]
    assert all(moved) if camera == "plucker" else not any(moved)
    rules = trainer.data_settings()["data_options"]
    assert ("target_scale_range" in rules) == (camera == "extrinsics")  # recorded with the cache's settings


def test_extrinsics_told_the_intrinsics_and_the_scale_share_the_others_data(studio, tmp_path):
    """FaceCam-mini's extrinsic arms: told the intrinsics, they train on the zoomed and panned samples
    the other kinds get, from the same cache; told the scale, their translations are in head units."""
    from facecam_kit.train.cache import latent_conditions
    from facecam_kit.train.objective import camera_condition

    kw = dict(augment=True, data_options={"p_background": 0.0}, scene_scale_range=[0.5, 2.0], max_steps=1)
    kw["cache_dir"] = str(tmp_path / "cache")  # other settings than the module's shared cache
    told = config(studio, tmp_path / "told", camera="extrinsics", camera_intrinsics=True, camera_units="head", **kw)
    landmarks = config(studio, tmp_path / "lm", **kw)
    trainer = Trainer(told)
    assert trainer.data_settings() == Trainer(landmarks).data_settings()  # one cache for every arm
    trainer.train()  # an IntrinsicsReCamMasterTransformer trains on the cache
    assert type(trainer.trained["transformer"]).__name__ == "IntrinsicsReCamMasterTransformer"
    batch = collate(trainer.cache, [0, 1], "cpu")
    metric = camera_condition(TrainConfig(**{**told.to_dict(), "camera_units": "metric"}), batch)
    head = camera_condition(told, batch)
    assert metric.shape == head.shape == (2, 2, 20) and torch.equal(metric[..., 12:], batch["intrinsics"])
    ds = trainer.dataset()
    for i in range(2):
        item = ds[i]
        scale = float(item["scene_scale"])
        assert scale != pytest.approx(1.0, abs=0.01)
        at_one, _ = latent_conditions(
            *(item[k].double().numpy() for k in ("source_R", "source_t", "R", "t", "K")), 32, 32
        )
        torch.testing.assert_close(head[i, :, :12], torch.from_numpy(at_one).float(), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(metric[i, :, 3:12:4], head[i, :, 3:12:4] * scale, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="extrinsic condition only; camera is landmarks"):
        config(studio, tmp_path, camera_intrinsics=True)
    with pytest.raises(ValueError, match="camera_units must be metric or head"):
        config(studio, tmp_path, camera="extrinsics", camera_units="metres")


def test_text_dropout_and_source_noise_draws(studio, tmp_path):
    cfg = config(studio, tmp_path, text_dropout=0.2, source_noise=[200, 500])
    draws = [draw_sample_noise(cfg, p, "low", (16, 2, 4, 4)) for p in range(600)]
    share = np.mean([bool(d["drop_text"]) for d in draws])
    assert 0.15 < share < 0.25
    s = torch.cat([d["source_sigma"] for d in draws])
    assert float(s.min()) >= 0.2 and float(s.max()) <= 0.5
    again = draw_sample_noise(cfg, 7, "low", (16, 2, 4, 4))  # a sample's draws depend on its position only
    torch.testing.assert_close(again["noise"], draws[7]["noise"])


def test_latent_mask_follows_the_vae_grouping():
    mask = torch.zeros(9, 32, 16, dtype=torch.bool)
    mask[:, :, :8] = True  # the left half valid
    mask[1:3] = False  # two frames of the first group of 4 invalid
    m = latent_mask(mask)
    assert m.shape == (1, 3, 4, 2)
    torch.testing.assert_close(m[0, :, :, 0], torch.tensor([1.0, 0.5, 1.0])[:, None].expand(3, 4))
    assert float(m[0, :, :, 1].abs().max()) == 0.0
    halved = latent_mask(mask, 8, frames_per_latent=2)  # a VAE that halves time: frame 0, then pairs
    assert halved.shape == (1, 5, 4, 2)
    torch.testing.assert_close(halved[0, :, 0, 0], torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0]))


# -- config and cache -----------------------------------------------------------------------------------
def test_config_errors_name_the_setting(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("preset: facecam\nmax_stepz: 3\n")
    with pytest.raises(ValueError, match="max_stepz"):
        load_config(path)
    path.write_text("preset: everything\n")
    with pytest.raises(ValueError, match="preset must be one of"):
        load_config(path)
    assert load_config(ROOT / "configs/train/tiny_studio.yaml", {"max_steps": 7}).max_steps == 7


def test_cache_holds_the_vae_latents_and_is_reused_only_with_the_same_settings(studio, tmp_path):
    from facecam_kit.data.dataset import StudioDataset

    trainer = Trainer(config(studio, tmp_path, cache_dir=str(tmp_path / "cache")))
    cache = trainer.prepare_data()
    index = json.loads((tmp_path / "cache" / "index.json").read_text())
    assert index["num_samples"] == len(cache) == 8 and index["augmentation_seeds"][3] == [0, 3]
    item = StudioDataset(studio, 5, 8, augment=False)[3]
    expected = trainer.pipe.encode_video(item["condition"].permute(1, 0, 2, 3)[None])[0]
    torch.testing.assert_close(cache[3]["condition"], expected)
    assert not list(tmp_path.glob("*.partial"))
    AcceleratorState._reset_state(reset_partial_state=True)
    other = Trainer(config(studio, tmp_path, cache_dir=str(tmp_path / "cache"), data_seed=1))
    with pytest.raises(ValueError, match="other settings"):
        other.prepare_data()
    masked = Trainer(config(studio, tmp_path, cache_dir=str(tmp_path / "cache"), masked_loss=True))
    with pytest.raises(ValueError, match="no 'mask'"):
        masked.prepare_data()


def test_masked_loss_weights_by_the_mask(studio, tmp_path):
    trainer = Trainer(config(studio, tmp_path, text_dropout=0.0))
    cache = trainer.prepare_data()
    model, (text, empty) = trainer.trained["transformer"], cache.text()
    batch = collate(cache, [0, 1], "cpu")
    plain, _ = flow_matching_loss(model, batch, text, empty, trainer.cfg, "high", [0, 1])
    masked_cfg = config(studio, tmp_path, text_dropout=0.0, masked_loss=True)
    ones = {**batch, "mask": torch.ones(2, 1, *batch["target"].shape[2:])}
    same, _ = flow_matching_loss(model, ones, text, empty, masked_cfg, "high", [0, 1])
    torch.testing.assert_close(same, plain)
    half = {**batch, "mask": ones["mask"].clone()}
    half["mask"][..., 2:] = 0
    assert abs(float(flow_matching_loss(model, half, text, empty, masked_cfg, "high", [0, 1])[0]) - float(plain)) > 1e-6


# -- training ---------------------------------------------------------------------------------------------------
def test_tiny_model_overfits_one_batch(studio, tmp_path):
    """One batch, its draws fixed: the loss falls more than 10x within 300 steps."""
    trainer = Trainer(config(studio, tmp_path, text_dropout=0.0))
    cache = trainer.prepare_data()
    model, (text, empty) = trainer.trained["transformer"], cache.text()
    batch, positions = collate(cache, [0, 1], "cpu"), [0, 1]
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(300):
        loss, _ = flow_matching_loss(model, batch, text, empty, trainer.cfg, "high", positions)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    ratio = losses[0] / losses[-1]
    print(f"overfit: loss {losses[0]:.4g} -> {losses[-1]:.4g} ({ratio:.0f}x)")
    assert ratio > 10


@pytest.mark.parametrize("preset", ["facecam", "recammaster", "full", "lora"])
def test_only_the_presets_parameters_change(studio, tmp_path, preset):
    cfg = config(studio, tmp_path, preset=preset, lora_rank=4, lora_alpha=4.0, max_steps=3, checkpoint_every=100)
    trainer = Trainer(cfg)
    model = trainer.trained["transformer"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.setup()
    for step in range(3):
        loss, _ = flow_matching_loss(
            model, collate(trainer.cache, [step], "cpu"), trainer.text, trainer.empty, cfg, "high", [step]
        )
        trainer.acc.backward(loss)
        trainer.optimizer.step()
        trainer.optimizer.zero_grad()
    after = model.state_dict()
    changed = {k for k in after if k not in before or not torch.equal(before[k], after[k])}
    expected = set(trainer.trainable_names["transformer"])
    assert changed == expected, (
        f"changed but frozen: {sorted(changed - expected)[:5]}; unchanged: {sorted(expected - changed)[:5]}"
    )
    if preset == "lora":
        assert all("lora_" in k for k in changed)
    if preset == "facecam":
        assert "patch_embedding.weight" in changed and not any(".attn2." in k or ".ffn." in k for k in changed)
    assert trainer.frozen.get("transformer_2") is None or all(
        not p.requires_grad for p in trainer.frozen["transformer_2"].parameters()
    )


def test_checkpoint_loads_as_a_pipeline_and_a_resumed_run_matches(studio, tmp_path):
    from facecam_kit.model.pipeline import FaceCamPipeline
    from facecam_kit.model.weights import inspect_weights

    common = dict(
        preset="lora",
        lora_rank=4,
        lora_alpha=8.0,
        expert="both",
        batch_size=2,
        grad_accum=2,
        lr_warmup_steps=2,
        lr_scheduler="cosine",
        max_steps=6,
        checkpoint_every=3,
        text_dropout=0.3,
        source_noise=[200, 500],
    )
    full = Trainer(config(studio, tmp_path / "full", **common)).train()
    AcceleratorState._reset_state(reset_partial_state=True)
    Trainer(config(studio, tmp_path / "parts", **common)).train(until=3)  # interrupted after step 3
    AcceleratorState._reset_state(reset_partial_state=True)
    resumed = Trainer(config(studio, tmp_path / "parts", **common, resume="latest")).train()
    assert resumed.name == full.name == "checkpoint-000006"
    worst = 0.0
    for component in ("transformer", "transformer_2"):
        a, b = saved_weights(full, component), saved_weights(resumed, component)
        worst = max(worst, max(float((a[k] - b[k]).abs().max()) for k in a))
    print(f"resume: max |uninterrupted - resumed| = {worst:.3g}")
    assert worst < 1e-6
    # the merged LoRA weights differ from the random start: the run trained, and saved plain keys
    start = load_base(config(studio, tmp_path / "x", **common))[0].transformer.state_dict()
    assert (
        float((saved_weights(full)["blocks.0.attn1.to_q.weight"] - start["blocks.0.attn1.to_q.weight"]).abs().max()) > 0
    )
    report = inspect_weights(full)
    assert report.layout == "saved pipeline" and report.missing_keys == 0
    pipe = FaceCamPipeline.from_pretrained(full)
    assert not pipe.config.random_weights and pipe.transformer_2 is not None


def test_two_processes_match_one_with_the_same_global_batch(studio, tmp_path):
    """gloo DDP over 2 processes (batch 1, accumulation 2) = 1 process with batch 4."""
    common = dict(preset="full", max_steps=4, checkpoint_every=100, text_dropout=0.5, lr_warmup_steps=1)
    single = Trainer(config(studio, tmp_path / "one", batch_size=4, **common)).train()
    cfg = config(studio, tmp_path / "two", batch_size=1, grad_accum=2, **common)
    path = tmp_path / "two.json"
    path.write_text(json.dumps(cfg.to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_PORT": "29531"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29531",
        "-m",
        "facecam_kit.train",
        str(path),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "global batch 4 on 2 process(es)" in done.stdout + done.stderr
    a, b = saved_weights(single), saved_weights(tmp_path / "two" / "checkpoint-000004")
    # Adam moves a parameter whose true gradient is zero by lr * sign(rounding noise), and the
    # rounding differs with the reduction order: key biases (softmax ignores a per-query constant)
    # and, with the tiny model's zero text, the cross-attention queries and keys. They are found
    # in float64 (gradient < 1e-12, against >= 1e-6 for the others) and left out of the comparison.
    model = load_base(cfg)[0].transformer.double()
    cache = CachedLatents(studio.parent / "cache")
    batch = {
        k: v.double() for k, v in collate(cache, [dataset_index(p, len(cache), 0) for p in range(4)], "cpu").items()
    }
    text, empty = (e.double() for e in cache.text())
    flow_matching_loss(model, batch, text, empty, cfg, "high", range(4))[0].backward()
    silent = {n for n, p in model.named_parameters() if float(p.grad.abs().max()) < 1e-12}
    assert 0 < len(silent) < len(a) / 2
    start = load_base(cfg)[0].transformer.state_dict()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a if k not in silent)
    moved = min(float((a[k] - start[k]).abs().max()) for k in a if k not in silent)
    print(
        f"DDP: max |2 processes - 1 process| = {worst:.3g} over {len(a) - len(silent)} tensors "
        f"(each moved >= {moved:.3g})"
    )
    assert worst < 1e-6 < moved


def test_positions_cover_the_global_batch_once():
    one = sample_positions(5, 0, 0, 4, 1, 1)
    two = [p for micro in range(2) for rank in range(2) for p in sample_positions(5, micro, rank, 1, 2, 2)]
    assert sorted(two) == one == list(range(20, 24))


# -- one command, from training to render, and the configurations for scale ------------------------------
def test_trained_checkpoint_renders_from_the_command_line(tmp_path):
    """`python -m facecam_kit.train CONFIG` makes the studio, trains, and `render --weights` loads the
    checkpoint: its video carries no RANDOM WEIGHTS banner."""
    from facecam_kit.assets import data_path
    from facecam_kit.cli import main as cli
    from facecam_kit.train.__main__ import main as train_main
    from facecam_kit.video import read_video

    sets = [
        f"output_dir={tmp_path / 'run'}",
        f"data_root={tmp_path / 'studio'}",
        "make_studio={num_heads: 1, num_cameras: 3, num_frames: 5, size: 32, seed: 0}",
        "num_frames=5",
        "samples_per_item=2",
        "max_steps=2",
        "checkpoint_every=2",
        "validate_every=2",
        "validation_steps=1",
        "progress=false",
    ]
    argv = [str(ROOT / "configs/train/tiny_studio.yaml")] + [x for s in sets for x in ("--set", s)]
    assert train_main(argv) == 0
    ckpt = tmp_path / "run" / "checkpoint-000002"
    assert (tmp_path / "run" / "validation" / "step_000002.mp4").is_file()
    assert list((tmp_path / "run" / "logs").rglob("events.out.tfevents.*")), "no TensorBoard log"
    args = ["render", "--video", str(data_path("sample_clip.mp4")), "--trajectory", "pan_left"]
    args += ["--out", str(tmp_path / "o"), "--weights", str(ckpt), "--frames", "5", "--height", "32", "--width", "32"]
    assert cli(args + ["--steps", "2"]) == 0
    generated = read_video(tmp_path / "o" / "sample_clip.mp4")[0]
    assert generated.shape == (5, 32, 32, 3)
    run = json.loads((tmp_path / "o" / "sample_clip_run.json").read_text())
    assert run["label"] is None  # trained weights: no RANDOM WEIGHTS banner


@pytest.mark.parametrize("path", sorted((ROOT / "configs/train").glob("*.yaml")), ids=lambda p: p.name)
def test_every_training_config_loads(path):
    cfg = load_config(path)
    assert cfg.max_steps >= 1


@pytest.mark.parametrize("path", sorted((ROOT / "configs/accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_accelerate_configs_parse_and_wrap_the_wan_block(path):
    from accelerate.commands.config.config_args import load_config_from_file
    from diffusers import WanTransformer3DModel

    from facecam_kit.model.pipeline import tiny_dit_config

    cfg = load_config_from_file(str(path))
    assert cfg.distributed_type.value in ("NO", "MULTI_GPU", "FSDP", "DEEPSPEED")
    if cfg.distributed_type.value == "FSDP":
        fsdp = cfg.fsdp_config
        assert fsdp["fsdp_version"] == 2 and fsdp["fsdp_activation_checkpointing"]
        block = WanTransformer3DModel(**tiny_dit_config()).blocks[0]
        assert fsdp["fsdp_transformer_layer_cls_to_wrap"] == type(block).__name__  # a class name that exists


def test_memory_model_counts_the_real_parameters():
    """scale.py's counts are the model's own; its memory is the formula of its docstring."""
    from diffusers import WanTransformer3DModel

    from facecam_kit.model.flops import DiTConfig
    from facecam_kit.train import scale

    cfg = DiTConfig(dim=256, layers=3, ffn=512, in_channels=36)
    model = WanTransformer3DModel(**scale.transformer_kwargs(cfg))
    counts = scale.parameter_counts(cfg, "facecam")
    assert counts.total == sum(p.numel() for p in model.parameters())
    assert counts.trainable == sum(
        p.numel() for n, p in model.named_parameters() if ".attn1." in f".{n}" or n.startswith("patch_embedding.")
    )
    m = scale.memory_per_gpu(cfg, counts, n_tokens=1000, num_gpus=4)
    assert m["states"] == pytest.approx((4 * counts.total + 12 * counts.trainable) / 4 / 1e9)
    assert m["activations"] == pytest.approx((3 * 1000 * 256 * 2 + 1000 * (16 * 256 + 2 * 512) * 2) / 1e9)
    assert m["total"] == pytest.approx(m["states"] + m["working"] + m["activations"])
    # the 14B expert's arithmetic of docs/training_at_scale.md
    big = scale.parameter_counts(scale.WAN22_I2V_A14B, "full")
    assert big.total == 14_288_901_184
    n = scale.tokens(81, 704, 480)
    assert scale.memory_per_gpu(scale.WAN22_I2V_A14B, big, n, 8)["total"] == pytest.approx(66.2, abs=0.05)
    assert scale.step_seconds(scale.WAN22_I2V_A14B, n, scale.PEAK_TFLOPS["A100"], 0.4) == pytest.approx(124, abs=0.5)


def test_a_dit_that_cannot_reach_every_latent_value_is_warned_about(tmp_path):
    """A 1x4x4 patch of 16 channels is 256 values a token, written from the tiny DiT's 24 features:
    warned; 1x1x1 patches (16 values) are not."""
    import warnings

    kw = dict(expert="both", camera="plucker", model="tiny")
    with pytest.warns(UserWarning, match="256 latent values .* from 24 features"):
        load_base(config(tmp_path, tmp_path / "a", dit={"patch_size": [1, 4, 4]}, **kw))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_base(config(tmp_path, tmp_path / "b", dit={"patch_size": [1, 1, 1]}, **kw))
