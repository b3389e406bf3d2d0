"""FaceCam-mini's network, pipeline and training objective (mini.unet, mini.pipeline, mini.unet_training),
on tiny configurations."""

import json

import numpy as np
import pytest
import torch

from facecam_kit.mini.pipeline import (
    FaceCamMiniPipeline,
    clip_windows,
    make_mini_scheduler,
    mini_sigmas,
    tiny_mini_pipeline,
)
from facecam_kit.mini.unet import MiniUNet, shared_noise
from facecam_kit.mini.unet_training import MiniRun, loss_of, make_unet, step_batch, train_run
from facecam_kit.mini.vae import MINI_VAE_CONFIG, mini_vae
from facecam_kit.model.pipeline import normalise_latents

Z = 8  # the tiny VAE's latent channels
TINY = dict(block_out_channels=(16, 32), attention_head_dim=16, sample_size=8)


def camera_for(kind: str, frames: int = 5, side: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    if kind == "landmarks":
        return np.random.default_rng(seed).integers(0, 255, (frames, 4 * side, 4 * side, 3), dtype=np.uint8)
    shape = (1, 6, frames, side, side) if kind == "plucker" else (1, frames, 20)
    return torch.randn(shape, generator=g)


SOURCE = np.random.default_rng(1).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("kind", ["landmarks", "plucker", "extrinsics"])
def test_every_arm_is_one_network_that_reads_its_source_and_its_camera(kind):
    """The arms differ only in how the camera comes in: on channels or through the timestep embedding."""
    pipe = tiny_mini_pipeline(kind)
    run = lambda source, camera: pipe(source, camera, num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    out = run(SOURCE, camera_for(kind)).frames
    assert out.shape == (1, 5, 32, 32, 3) and 0 <= out.min() and out.max() <= 1
    assert np.abs(out - run(SOURCE, camera_for(kind, seed=1)).frames).max() > 1e-4  # the camera is read
    assert np.abs(out - run(SOURCE[::-1].copy(), camera_for(kind)).frames).max() > 1e-4  # the source is read
    widths = {n: p.shape for n, p in pipe.unet.unet.named_parameters() if "conv_in" not in n}
    other = tiny_mini_pipeline("plucker" if kind != "plucker" else "landmarks")
    backbone = {n: p.shape for n, p in other.unet.unet.named_parameters() if "conv_in" not in n}
    assert {n: s for n, s in widths.items() if "class" not in n} == backbone  # one backbone


def test_the_network_and_the_pipeline_refuse_what_they_cannot_read():
    with pytest.raises(ValueError, match="as a map or as numbers"):
        MiniUNet(camera_channels=4, camera_dim=12)
    pipe = tiny_mini_pipeline("plucker")
    with pytest.raises(ValueError, match=r"camera_condition for camera_kind 'plucker' must be \(1, 6, 5, 8, 8\)"):
        pipe(SOURCE, torch.zeros(1, 6, 2, 8, 8))
    with pytest.raises(ValueError, match="multiple of 16"):
        pipe(SOURCE[:, :24, :24], torch.zeros(1, 6, 5, 6, 6))
    with pytest.raises(ValueError, match="camera_kind 'extrinsics' needs a UNet that reads the camera as numbers"):
        FaceCamMiniPipeline(pipe.unet, pipe.vae, make_mini_scheduler(), "extrinsics")
    with pytest.raises(ValueError, match="keep every frame"):
        grouping = mini_vae(0, config={**MINI_VAE_CONFIG, "dim_mult": [1, 2, 4], "temperal_downsample": [False, True]})
        FaceCamMiniPipeline(pipe.unet, grouping, make_mini_scheduler(), "plucker")
    with pytest.raises(ValueError, match="4k\\+1"):
        pipe(SOURCE[:3], torch.zeros(1, 6, 3, 8, 8))
    with pytest.raises(ValueError, match="steps must be >= 1"):
        pipe(SOURCE, camera_for("plucker"), num_inference_steps=0)


def knows(x0: torch.Tensor):
    """A network's forward that always answers ``x0`` (the clean latent it was built with)."""
    return lambda sample, timestep, source, camera, return_dict=True: (x0.expand_as(sample),)


@pytest.mark.parametrize(("steps", "start"), [(1, 0.4), (8, 0.4), (5, 1.0)])
def test_the_sampler_lands_on_the_clean_latent_a_network_that_knows_it_predicts(steps, start):
    """x0 prediction turned into the scheduler's velocity ``(x_t - x0) / s``: with the right x0 every
    sampler ends on it (a flipped velocity, or a wrong sigma, would not)."""
    pipe = tiny_mini_pipeline("plucker")
    x0 = torch.randn(1, Z, 8, 8, generator=torch.Generator().manual_seed(3))
    pipe.unet.forward = knows(x0)
    seen = []
    out = pipe(SOURCE, camera_for("plucker"), steps, start, output_type="latent",
               callback_on_step_end=lambda p, i, t, kw: seen.append(float(t)) or {})  # fmt: skip
    torch.testing.assert_close(out.frames, x0[:, :, None].expand(1, Z, 5, 8, 8), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(seen, 1000 * mini_sigmas(steps, start), rtol=1e-5)
    assert seen[0] == 1000 and (steps == 1 or start == 1 or seen[1] == pytest.approx(1000 * start))


def test_the_pipeline_is_seeded_saved_and_loaded_as_diffusers_pipelines_are(tmp_path):
    pipe = tiny_mini_pipeline("landmarks")
    cam = camera_for("landmarks")
    call = lambda p, seed: p(SOURCE, cam, generator=torch.Generator().manual_seed(seed), output_type="pt").frames
    first = call(pipe, 0)
    torch.testing.assert_close(first, call(pipe, 0))
    assert (first - call(pipe, 1)).abs().max() > 1e-4
    pipe.save_pretrained(tmp_path / "mini")
    again = FaceCamMiniPipeline.from_pretrained(tmp_path / "mini")
    again.set_progress_bar_config(disable=True)
    assert again.config.camera_kind == "landmarks" and isinstance(again.unet, MiniUNet)
    torch.testing.assert_close(call(again, 0), first)
    # a callback may replace the latents: zeroed at the last step, the output is the decoded zero latent
    zero = lambda p, i, t, kw: {"latents": torch.zeros_like(kw["latents"])} if i == 7 else {}
    got = pipe(SOURCE, cam, callback_on_step_end=zero, output_type="latent").frames
    assert got.abs().max() == 0
    # one noise for every frame: the frames differ only by their source and camera
    noise = shared_noise((1, Z, 5, 8, 8), torch.Generator().manual_seed(0))
    assert torch.equal(noise[:, :, 0], noise[:, :, 4])
    torch.testing.assert_close(pipe(SOURCE, cam, latents=noise, output_type="pt").frames, first)
    # pinned: a change to the network, the sampler or the noise shows here
    np.testing.assert_allclose(first[0, 1, :, 10, 10].numpy(), PINNED, atol=2e-3)


PINNED = [0.8024583, 0.46556285, 0.5582227]


def test_clip_windows_cover_every_frame_once_in_clips_of_the_training_length():
    assert clip_windows(5, 5) == [(0, 5, 0)] and clip_windows(1, 5) == [(0, 1, 0)]
    windows = clip_windows(33, 5)
    assert windows[-1] == (28, 33, 2) and all(b - a == 5 for a, b, _ in windows)
    kept = [f for a, b, keep in windows for f in range(a + keep, b)]
    assert kept == list(range(33))


def test_a_long_video_passes_the_vae_in_clips_not_at_once():
    """The causal VAE remembers earlier frames: encoded at once, a 9-frame video's frames 5-8 get
    other latents than the clips the network trained on; windowed, they are those of a clip alone."""
    pipe = tiny_mini_pipeline("landmarks")
    video = torch.as_tensor(np.random.default_rng(0).uniform(-1, 1, (1, 3, 9, 32, 32)), dtype=torch.float32)
    with torch.no_grad():
        windowed = pipe.encode_video(video)
        alone = pipe.encode_video(video[:, :, 4:9])
        at_once = normalise_latents(pipe.vae, pipe.vae.encode(video).latent_dist.mode())
        decoded = pipe.decode_latents(windowed)
        decoded_alone = pipe.decode_latents(windowed[:, :, 4:9])
    torch.testing.assert_close(windowed[:, :, 5:], alone[:, :, 1:])
    torch.testing.assert_close(windowed[:, :, :5], at_once[:, :, :5])
    assert (windowed[:, :, 5:] - at_once[:, :, 5:]).abs().max() > 1e-3
    torch.testing.assert_close(decoded[:, 5:], decoded_alone[:, 1:])


def tiny_cache_data(frames: int = 3, n: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """What ``unet_training.load_cache`` returns, made up: latents, maps, poses, intrinsics, scales."""
    g = torch.Generator().manual_seed(seed)
    lat = lambda c: torch.randn(n, c, frames, 8, 8, generator=g)
    data = {"source": lat(Z), "target": lat(Z), "condition": lat(Z), "plucker": lat(6)}
    data |= {"camera": torch.randn(n, frames, 12, generator=g), "intrinsics": torch.rand(n, frames, 8, generator=g)}
    return data | {"scene_scale": torch.tensor([[0.5], [1.0], [2.0], [1.5]])[:n]}


def test_a_step_is_drawn_from_its_seed_and_step_with_the_arms_camera():
    data = tiny_cache_data()
    run = MiniRun("unused", "unused", "extrinsics", camera_intrinsics=True, camera_units="head", batch=6, seed=3)
    a, b = step_batch(run, data, 5), step_batch(run, data, 5)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["x_t"], step_batch(run, data, 6)["x_t"])
    assert a["camera"].shape == (6, 20) and a["x_t"].shape == (6, Z, 8, 8)
    # told the scale: each translation in head units (divided by its sample's scene scale)
    sample, frame = _which(a["x0"], data["target"])
    for i, (s, f) in enumerate(zip(sample, frame)):
        pose = data["camera"][s, f]
        torch.testing.assert_close(a["camera"][i, 3:12:4], pose[3::4] / data["scene_scale"][s, 0])
        torch.testing.assert_close(a["camera"][i, 12:], data["intrinsics"][s, f])
    # the noise levels: a third of the samples at s = 1 (the conditional mean), the rest below
    sigmas = torch.cat([step_batch(MiniRun("u", "u", batch=64, seed=0), data, k)["sigma"] for k in range(20)])
    assert abs(float((sigmas == 1).float().mean()) - 1 / 3) < 0.05 and float(sigmas.min()) > 0
    mean_only = step_batch(MiniRun("u", "u", mean_share=1.0, batch=4), data, 0)
    assert torch.equal(mean_only["sigma"], torch.ones(4))  # x_t is pure noise: a regression
    plucker = step_batch(MiniRun("u", "u", "plucker", batch=4), data, 0)
    sample, frame = _which(plucker["x0"], data["target"])
    torch.testing.assert_close(plucker["camera"], data["plucker"][sample, :, frame])
    torch.testing.assert_close(plucker["source"], data["source"][sample, :, frame])


def _which(x0: torch.Tensor, targets: torch.Tensor) -> tuple[list[int], list[int]]:
    """The (sample, frame) each clean latent of a batch was cut from."""
    found = [
        next((s, f) for s in range(len(targets)) for f in range(targets.shape[2]) if torch.equal(targets[s, :, f], x))
        for x in x0
    ]
    return [s for s, _ in found], [f for _, f in found]


def test_the_loss_is_the_error_of_the_clean_target():
    data = tiny_cache_data()
    run = MiniRun("u", "u", "landmarks", batch=4)
    batch = step_batch(run, data, 0)
    assert float(loss_of(knows(batch["x0"]), batch)) == 0  # the target: no loss
    assert float(loss_of(knows(batch["source"]), batch)) > 0.5  # the source frame is not the answer


def test_a_run_resumed_from_its_checkpoint_ends_where_an_uninterrupted_one_does(tmp_path):
    data = tiny_cache_data()
    settings = dict(camera_kind="plucker", block_out_channels=(16, 32), batch=2, log_every=1, checkpoint_every=2)
    straight = MiniRun("u", str(tmp_path / "straight"), steps=4, progress=False, **settings)
    train_run(straight, data)
    train_run(MiniRun("u", str(tmp_path / "resumed"), steps=2, progress=False, **settings), data)
    train_run(MiniRun("u", str(tmp_path / "resumed"), steps=4, progress=False, **settings), data)
    a = MiniUNet.from_pretrained(tmp_path / "straight" / "unet")
    b = MiniUNet.from_pretrained(tmp_path / "resumed" / "unet")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(p, q, msg=name)
    record = json.loads((tmp_path / "resumed" / "record.json").read_text())
    assert [h["step"] for h in record["history"]] == [1, 2, 3, 4] and record["steps"] == 4
    # the saved network is the average of every step's weights: neither the last step's nor the start
    state = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    assert int(state["ema"]["n_averaged"]) == 4
    start = make_unet(straight, data).state_dict()
    for k, v in a.state_dict().items():
        torch.testing.assert_close(v, state["ema"][f"module.{k}"])
    moved = lambda other: any(not torch.equal(other[k], v) for k, v in a.state_dict().items() if v.is_floating_point())
    assert moved(state["unet"]) and moved(start)


def test_source_reliance_is_what_the_source_adds_to_the_clean_estimate():
    """A network that copies its source estimates the target as the source's latents: with its own
    source the error is the copy's, with another head's it is that head's copy."""
    from facecam_kit.mini import source_use
    from facecam_kit.mini.recipe import SHIPPED
    from facecam_kit.mini.unet import MiniUNetOutput, frames_first
    from facecam_kit.mini.vae import clips_tensor

    made, _ = SHIPPED.sweep_scenes([0, 1], ("orbit_left",), (), (1.0,))
    assert source_use.swap_partners(made) == [1, 0]
    with pytest.raises(ValueError, match="no scene of another head"):
        source_use.swap_partners(made[:1])
    pipe = tiny_mini_pipeline("landmarks")
    real = source_use.source_reliance(pipe, made, sigmas=(0.9,))
    assert real["own"][0] > 0 and real["swapped"][0] > 0 and real["own"][0] != real["swapped"][0]
    pipe.unet.forward = lambda sample, timestep, source, camera, return_dict=True: MiniUNetOutput(sample=source)
    got = source_use.source_reliance(pipe, made, sigmas=(0.5, 0.9))
    with torch.no_grad():
        src, tgt = (
            frames_first(pipe.encode_video(clips_tensor(np.stack([getattr(s, k) for s in made]))))
            for k in ("source", "target")
        )
    f = len(made[0].target)
    other = float(((torch.cat([src[f:], src[:f]]) - tgt) ** 2).mean())
    assert got["own"] == pytest.approx([got["copy_source"]] * 2, rel=1e-5)
    assert got["swapped"] == pytest.approx([other] * 2, rel=1e-5)
    with pytest.raises(ValueError, match="sigmas"):
        source_use.source_reliance(pipe, made, sigmas=(0.0,))
    with pytest.raises(ValueError, match="reads a landmark network"):
        source_use.source_reliance(tiny_mini_pipeline("plucker"), made)
