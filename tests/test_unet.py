"""U-Net backbone: shapes, zero-initialised output, conditioning on noise level and mask."""

import pytest
import torch

from seaice_ldm.models import UNet, UNetConfig


def tiny_unet(mask_channel=True, in_channels=3, out_channels=2):
    torch.manual_seed(0)
    cfg = UNetConfig(
        in_channels,
        out_channels,
        channels=(8, 16, 16),
        blocks_per_level=1,
        attention_levels=(2,),
        mask_channel=mask_channel,
    )
    net = UNet(cfg)
    with torch.no_grad():
        net.conv_out.weight.normal_(0, 0.1)  # undo the zero init so outputs depend on inputs
    return net


def inputs(b=4, h=16, w=12):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, 3, h, w, generator=g)
    mask = (torch.rand(1, 1, h, w, generator=g) > 0.3).float()
    return x, torch.linspace(-1.5, 1.0, b), mask


def test_config_defaults():
    cfg = UNetConfig(8, 8)
    assert cfg.channels == (64, 128, 256) and cfg.attention_levels == (2,)
    assert cfg.emb_channels == 256 and cfg.downsampling_factor == 4
    with pytest.raises(ValueError, match="attention_levels"):
        UNetConfig(8, 8, channels=(8, 16), attention_levels=(2,))


def test_output_shape_and_zero_init():
    torch.manual_seed(0)
    net = UNet(UNetConfig(3, 2, channels=(8, 16, 16), blocks_per_level=1, attention_levels=(1, 2)))
    x, c_noise, mask = inputs()
    out = net(x, c_noise, mask)
    assert out.shape == (4, 2, 16, 12)
    assert torch.count_nonzero(out) == 0  # zero-initialised output convolution


def test_batch_one_mask_broadcasts():
    net = tiny_unet()
    x, c_noise, mask = inputs()
    out = net(x, c_noise, mask)
    torch.testing.assert_close(out, net(x, c_noise, mask.expand(4, -1, -1, -1)))
    assert torch.isfinite(out).all() and out.abs().sum() > 0


def test_conditioning_on_noise_level_and_mask():
    net = tiny_unet()
    x, c_noise, mask = inputs()
    out = net(x, c_noise, mask)
    assert not torch.allclose(out, net(x, c_noise + 0.5, mask))
    assert not torch.allclose(out, net(x, c_noise, torch.ones_like(mask)))
    # A scalar c_noise is broadcast over the batch.
    torch.testing.assert_close(net(x, 0.3, mask), net(x, torch.full((4,), 0.3), mask))


def test_batch_elements_are_independent():
    net = tiny_unet().eval()
    x, c_noise, mask = inputs()
    torch.testing.assert_close(net(x, c_noise, mask)[1:2], net(x[1:2], c_noise[1:2], mask))


def test_without_mask_channel():
    net = tiny_unet(mask_channel=False)
    x, c_noise, _ = inputs()
    assert net(x, c_noise).shape == (4, 2, 16, 12)


def test_errors():
    net = tiny_unet()
    x, c_noise, mask = inputs()
    with pytest.raises(ValueError, match="mask"):
        net(x, c_noise)
    with pytest.raises(ValueError, match="divisible"):
        net(x[..., :10], c_noise, mask[..., :10])
    with pytest.raises(ValueError, match="mask must have shape"):
        net(x, c_noise, mask[..., :8])


def test_margin_runs_the_grid_inside_a_ring_of_land():
    """With ``margin = m`` the network's output equals that of the same weights run on a grid m cells larger
    on every side whose extra cells are land (fields 0, mask 0), cropped back: edge cells see a coast."""
    plain = tiny_unet()
    ringed = UNet(UNetConfig(**{**plain.cfg.__dict__, "margin": 4}))
    ringed.load_state_dict(plain.state_dict())
    x, c_noise, mask = inputs(h=8, w=12)
    big_x = torch.zeros(4, 3, 16, 20)
    big_x[..., 4:12, 4:16] = x
    big_mask = torch.zeros(1, 1, 16, 20)
    big_mask[..., 4:12, 4:16] = mask
    expected = plain(big_x, c_noise, big_mask)[..., 4:12, 4:16]
    torch.testing.assert_close(ringed(x, c_noise, mask), expected)
    assert not torch.allclose(plain(x, c_noise, mask), expected)  # zero padding alone is not the same
    with pytest.raises(ValueError, match="plus a margin of 4 on each side is not divisible by 4"):
        ringed(x[..., :6, :], c_noise, mask[..., :6, :])
    with pytest.raises(ValueError, match="margin must not be negative"):
        UNetConfig(3, 2, margin=-1)


def test_attention_is_softmax_attention_on_contiguous_inputs(monkeypatch):
    """Multi-head attention over the positions, against softmax(q k^T / sqrt(d)) v written out; q, k and v reach
    the attention kernel contiguous (fused GPU kernels refuse strided inputs and fall back to the slow path)."""
    import torch.nn.functional as F

    from seaice_ldm.models.layers import SelfAttention

    torch.manual_seed(0)
    layer = SelfAttention(128, head_channels=64)  # two heads of 64 channels
    x = torch.randn(2, 128, 4, 6)
    seen = []
    attend = F.scaled_dot_product_attention

    def spy(q, k, v, *args, **kwargs):
        seen.append(all(t.is_contiguous() for t in (q, k, v)))
        return attend(q, k, v, *args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    out = layer(x)
    assert seen == [True]
    qkv = layer.qkv(layer.norm(x)).reshape(2, 3, 2, 64, 24)  # (B, q/k/v, head, channel, position)
    q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # (B, head, position, channel)
    weights = torch.softmax(q @ k.transpose(-1, -2) / 64**0.5, dim=-1)
    expected = x + layer.proj((weights @ v).transpose(-1, -2).reshape(2, 128, 4, 6))
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
