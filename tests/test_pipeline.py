import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from facecam_kit.model.flops import WAN21_T2V_1_3B, WAN22_I2V_A14B, forward_flops, tokens
from facecam_kit.model.pipeline import FaceCamPipeline, make_scheduler, official_sigmas, tiny_facecam_pipeline
from facecam_kit.model.weights import load_checkpoint_into, load_pipeline, to_diffusers_layout, to_original_layout


@pytest.fixture(scope="module")
def pipe():
    return tiny_facecam_pipeline(seed=0)


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (9, 32, 48, 3), dtype=np.uint8)
    cond = np.full_like(video, 255)
    cond[:, 10:20, 10:30] = 90  # something drawn
    emb = torch.randn(1, 8, 32, generator=torch.Generator().manual_seed(1))
    return video, cond, dict(prompt_embeds=emb, negative_prompt_embeds=torch.zeros(1, 8, 32))


def test_scheduler_reproduces_the_official_schedule():
    s = make_scheduler()
    s.set_timesteps(sigmas=official_sigmas(50))
    sigma = np.linspace(1, 0, 51)[:-1]
    shifted = 5 * sigma / (1 + 4 * sigma)
    np.testing.assert_allclose(s.sigmas[:-1].numpy(), shifted, rtol=1e-6)
    np.testing.assert_allclose(s.timesteps.numpy(), 1000 * shifted, rtol=1e-5)
    assert s.sigmas[-1] == 0  # the last Euler step lands on sigma = 0
    default = make_scheduler()
    default.set_timesteps(50)
    assert abs(default.sigmas[-2].item() - shifted[-1]) > 0.05  # the default schedule is not the official one
    # the expert switch at boundary 0.9: 18 high-noise steps, then 32 low-noise ones
    assert int((s.timesteps >= 900).sum()) == 18


def test_conditioning_layout_and_cfg(pipe, inputs):
    video, cond, emb = inputs
    seen = []

    def spy(module, args, kwargs):
        seen.append((module, args[0].clone(), kwargs.get("encoder_hidden_states", args[2]).clone()))

    hooks = [m.register_forward_pre_hook(spy, with_kwargs=True) for m in (pipe.transformer, pipe.transformer_2)]
    try:
        pipe(video, cond, num_inference_steps=4, generator=torch.Generator().manual_seed(0), **emb)
    finally:
        for h in hooks:
            h.remove()
    assert len(seen) == 8  # 4 steps x 2 passes (text and empty text)
    source = pipe.encode_video(torch.from_numpy(video).permute(3, 0, 1, 2)[None].float() / 127.5 - 1)
    camera = pipe.encode_video(torch.from_numpy(cond).permute(3, 0, 1, 2)[None].float() / 127.5 - 1)
    lf = source.shape[2]
    for _, x, _ in seen:
        assert x.shape == (1, 36, 2 * lf, 4, 6)
        torch.testing.assert_close(x[:, :16, lf:], source)  # clean source after the noisy target
        torch.testing.assert_close(x[:, 16:32, :lf], camera)  # camera latents on both halves
        torch.testing.assert_close(x[:, 16:32, lf:], camera)
        assert (x[:, 32:] == 0).all()  # four zero channels
    for (m1, x1, e1), (m2, x2, e2) in zip(seen[::2], seen[1::2]):  # the two CFG passes
        assert m1 is m2 and torch.equal(x1, x2) and not torch.equal(e1, e2)
    # high-noise expert first, low-noise after the boundary (t = 1000, 937.5 | 833, 625 for 4 steps)
    assert [s[0] is pipe.transformer for s in seen[::2]] == [True, True, False, False]


def test_generation_is_seeded_and_shaped(pipe, inputs):
    video, cond, emb = inputs
    calls = []

    def cb(p, i, t, kw):
        calls.append(i)
        return {"latents": kw["latents"]}

    a = pipe(
        video, cond, num_inference_steps=3, generator=torch.Generator().manual_seed(7), callback_on_step_end=cb, **emb
    )
    b = pipe(video, cond, num_inference_steps=3, generator=torch.Generator().manual_seed(7), **emb)
    c = pipe(video, cond, num_inference_steps=3, generator=torch.Generator().manual_seed(8), **emb)
    assert a.frames.shape == (1, 9, 32, 48, 3) and a.random_weights
    np.testing.assert_array_equal(a.frames, b.frames)
    assert np.abs(a.frames - c.frames).max() > 1e-3
    assert calls == [0, 1, 2]
    lat = pipe(
        video, cond, num_inference_steps=2, output_type="latent", generator=torch.Generator().manual_seed(7), **emb
    )
    assert lat.frames.shape == (1, 16, 3, 4, 6)
    with pytest.raises(ValueError, match="4k\\+1"):
        pipe(video[:8], cond[:8], num_inference_steps=1, **emb)
    with pytest.raises(ValueError, match="prompt_embeds"):
        pipe(video, cond, num_inference_steps=1)


def test_save_and_load(pipe, inputs, tmp_path):
    video, cond, emb = inputs
    pipe.save_pretrained(tmp_path / "tiny")
    again = load_pipeline(tmp_path / "tiny")
    assert isinstance(again, FaceCamPipeline) and again.config.boundary_ratio == 0.9
    run = lambda p: p(video, cond, num_inference_steps=2, generator=torch.Generator().manual_seed(3), **emb).frames
    np.testing.assert_array_equal(run(pipe), run(again))


def test_original_checkpoints_load_bit_exact(pipe, inputs, tmp_path):
    original = to_original_layout(pipe.transformer.state_dict())
    assert "blocks.0.self_attn.q.weight" in original and "head.modulation" in original
    assert "blocks.1.norm3.weight" in original and "blocks.0.ffn.0.weight" in original
    back = to_diffusers_layout(original)
    sd = pipe.transformer.state_dict()
    assert set(back) == set(sd) and all(torch.equal(back[k], sd[k]) for k in sd)
    # an official-style checkpoint folder (DiffSynth's "model." prefix, one extra key) into a fresh model
    folder = tmp_path / "facecam_high_noise"
    folder.mkdir()
    save_file(
        {f"model.{k}": v.contiguous() for k, v in original.items()} | {"extra.weight": torch.zeros(1)},
        folder / "model.safetensors",
    )
    fresh = tiny_facecam_pipeline(seed=5)
    assert load_checkpoint_into(fresh.transformer, folder) == (0, 1)
    for k, v in fresh.transformer.state_dict().items():
        assert torch.equal(v, sd[k]), k
    x = torch.randn(1, 36, 2, 4, 6)
    t, e = torch.tensor([500.0]), torch.randn(1, 8, 32)
    torch.testing.assert_close(fresh.transformer(x, t, e).sample, pipe.transformer(x, t, e).sample, rtol=0, atol=0)


def test_missing_weights_name_the_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="Wan2.2-I2V-A14B-Diffusers.*facecam_high_noise"):
        load_pipeline(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint files"):
        load_checkpoint_into(tiny_facecam_pipeline().transformer, tmp_path)


def test_flops_match_the_reference_table():
    n_rc, n_fc = tokens(81, 480, 832), tokens(81, 704, 480)
    assert (n_rc, n_fc) == (65520, 55440)
    rc, fc = forward_flops(WAN21_T2V_1_3B, n_rc), forward_flops(WAN22_I2V_A14B, n_fc)
    assert round(rc["total"] / 1e12, 1) == 970.8 and round(fc["total"] / 1e12, 1) == 3868.9
    assert round(fc["self_attention"] / 1e12, 1) == 2517.9 and round(rc["linear"] / 1e12, 1) == 173.3


def test_generate_button_callback(pipe, portrait):
    from facecam_kit.geometry.trajectory import OrbitTrajectory
    from facecam_kit.jobs import generate_video

    video = np.repeat(portrait[None, :128, :96], 5, 0).copy()
    r = generate_video(pipe, video, OrbitTrajectory((-20, 20), num_frames=81), steps=2, seed=1)
    assert r["generated"].shape == r["condition"].shape == (5, 128, 96, 3) and r["seconds"] > 0
    assert (r["condition"] < 200).any()  # a face drawn for the (resampled) 5-frame trajectory
    assert np.median(r["generated"][:, 9:12]) < 20  # labelled: random weights
