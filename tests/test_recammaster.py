import pytest
import torch
from diffusers import WanTransformer3DModel

from facecam_kit.baselines.recammaster import ReCamMasterTransformer
from facecam_kit.geometry.trajectory import PresetTrajectory, recammaster_embedding
from facecam_kit.model.pipeline import tiny_dit_config
from facecam_kit.model.weights import to_diffusers_layout, to_original_layout

CFG = tiny_dit_config(in_channels=16)


def test_fresh_camera_layers_change_nothing_and_train_to_matter():
    torch.manual_seed(0)
    base = WanTransformer3DModel(**CFG)
    rc = ReCamMasterTransformer(**CFG)
    missing, unexpected = rc.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and {k.split(".")[2] for k in missing} == {"cam_encoder", "projector"}
    camera = torch.from_numpy(recammaster_embedding(PresetTrajectory("arc_left", 9).cameras())).float()[None]
    for size in ((4, 6), (6, 10)):  # any resolution
        x = torch.randn(1, 16, 2 * camera.shape[1], *size)
        t, e = torch.tensor([700.0]), torch.randn(1, 8, 32)
        ref = base(x, t, e).sample
        torch.testing.assert_close(rc(x, t, e, camera=camera).sample, ref)  # zero encoder, identity projector
        with torch.no_grad():
            rc.blocks[0].cam_encoder.weight.normal_()
        moved = rc(x, t, e, camera=camera).sample
        assert (moved - ref).abs().max() > 1e-4
        other = rc(x, t, e, camera=torch.zeros_like(camera)).sample
        assert (moved - other).abs().max() > 1e-4  # the output depends on the camera
        with torch.no_grad():
            rc.blocks[0].cam_encoder.weight.zero_()
    with pytest.raises(ValueError, match="one relative 3x4 pose per target latent frame"):
        rc(x, t, e, camera=camera[:, :2])


def test_camera_keys_pass_through_the_converter():
    rc = ReCamMasterTransformer(**CFG)
    original = to_original_layout(rc.state_dict())
    assert "blocks.1.cam_encoder.weight" in original and "blocks.0.projector.bias" in original
    back, sd = to_diffusers_layout(original), rc.state_dict()
    assert set(back) == set(sd) and all(torch.equal(back[k], sd[k]) for k in sd)


def test_saved_model_reloads_at_its_own_size(tmp_path):
    """from_pretrained / from_config rebuild the tiny model, camera layers included (not a 14B default)."""
    model = ReCamMasterTransformer(**tiny_dit_config(16))
    model.save_pretrained(tmp_path)
    loaded = ReCamMasterTransformer.from_pretrained(tmp_path)
    assert loaded.config.num_layers == model.config.num_layers == 2
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    assert ReCamMasterTransformer.from_config(model.config).config.num_attention_heads == 2


def test_gradient_checkpointing_recomputes_with_the_camera():
    """The checkpointed blocks are re-run in the backward pass: they must see the camera again
    (the 1.3B training step of `gpu-check` runs ReCamMaster with checkpointing)."""
    torch.manual_seed(0)
    rc = ReCamMasterTransformer(**CFG)
    with torch.no_grad():
        for block in rc.blocks:
            block.cam_encoder.weight.normal_()
    x, t, e = torch.randn(1, 16, 6, 4, 6), torch.tensor([500.0]), torch.randn(1, 8, 32)
    camera = torch.randn(1, 3, 12)
    grads = []
    for checkpointing in (False, True):
        rc.zero_grad()
        if checkpointing:
            rc.enable_gradient_checkpointing()
        rc.train()
        rc(x, t, e, camera=camera).sample.square().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for b in rc.blocks for p in b.cam_encoder.parameters()]))
    assert grads[0].abs().max() > 0
    torch.testing.assert_close(grads[1], grads[0])


def test_the_intrinsics_variant_reads_20_values_and_they_matter(tmp_path):
    """FaceCam-mini's extrinsic baseline: pose + the target's and source's intrinsics, all used."""
    import numpy as np

    from facecam_kit.baselines.recammaster import IntrinsicsReCamMasterTransformer, camera_with_intrinsics
    from facecam_kit.geometry.camera import intrinsics_from_fov

    cams = PresetTrajectory("arc_left", 9).cameras()
    K = intrinsics_from_fov(30.0, 96, 96)
    zoomed = K * np.array([[1.5], [1.5], [1.0]])  # the target zoomed in by 1.5 (the principal point kept)
    zoomed[:2, 2] = K[:2, 2]
    poses = recammaster_embedding(cams)
    plain = camera_with_intrinsics(poses, np.stack([K] * 3), K, 96, 96)
    zoom = camera_with_intrinsics(poses, np.stack([zoomed] * 3), K, 96, 96)
    assert plain.shape == (3, 20) and np.array_equal(plain[:, :12], poses)
    np.testing.assert_allclose(zoom[:, 12:14] / plain[:, 12:14], 1.5)
    np.testing.assert_array_equal(zoom[:, 14:], plain[:, 14:])  # principal points and the source unchanged
    torch.manual_seed(0)
    model = IntrinsicsReCamMasterTransformer(**CFG)
    with torch.no_grad():
        for block in model.blocks:
            block.cam_encoder.weight.normal_()
    x, t, e = torch.randn(1, 16, 6, 4, 6), torch.tensor([700.0]), torch.randn(1, 8, 32)
    run = lambda c: model(x, t, e, camera=torch.from_numpy(c).float()[None]).sample
    assert (run(zoom) - run(plain)).abs().max() > 1e-4  # a zoom alone changes the output
    with pytest.raises(ValueError, match=r"\(B, 3, 20\): a relative 3x4 pose and the target's and source's"):
        model(x, t, e, camera=torch.from_numpy(poses).float()[None])
    model.save_pretrained(tmp_path)
    loaded = IntrinsicsReCamMasterTransformer.from_pretrained(tmp_path)
    assert loaded.blocks[0].cam_encoder.in_features == 20
    torch.testing.assert_close(loaded(x, t, e, camera=torch.from_numpy(zoom).float()[None]).sample, run(zoom))
    with pytest.raises(ValueError, match="same f"):
        camera_with_intrinsics(poses, np.stack([K] * 2), K, 96, 96)
