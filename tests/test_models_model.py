"""MasteringModel: batch forward, whole-track analysis, controller start point, gradients."""

import pytest
import torch

from tonematch.models.controller import Controller
from tonematch.models.descriptors import DESCRIPTOR_NAMES
from tonematch.models.model import MasteringModel

P = 31
SMALL = {"channels": (8, 16, 16, 16), "n_mels": 32, "embed_dim": 32}  # fast, same architecture
LOUD = DESCRIPTOR_NAMES.index("loudness")


def noise(*shape, seed=0, scale=0.1):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g)


def small_model(**kw):
    torch.manual_seed(0)
    kw.setdefault("excerpt_frames", 16384)
    return MasteringModel(P, encoder_kwargs=SMALL, controller_kwargs={"hidden": 64}, **kw)


def test_default_model_size_and_forward(capsys):
    torch.manual_seed(0)
    model = MasteringModel(P).eval()
    n = sum(p.numel() for p in model.parameters())
    enc = sum(p.numel() for p in model.encoder.parameters())
    with capsys.disabled():  # shown in every run, not only with -s
        print(f"\nMasteringModel(P={P}) parameters: {n:,} (encoder {enc:,}, controller {n - enc:,})")
    assert n <= 5_000_000
    with torch.no_grad():
        out = model(noise(2, 2, 32768, seed=1), noise(2, 2, 32768, seed=2))
    assert out.shape == (2, P)
    assert ((out >= 0) & (out <= 1)).all()


@pytest.mark.parametrize("rate", [22050, 48000])
def test_forward_at_other_sample_rates(rate):
    model = small_model(sample_rate=rate).eval()
    assert model.encoder.sample_rate == rate
    with torch.no_grad():
        out = model(noise(3, 2, rate // 2, seed=1), noise(3, 2, rate // 2, seed=2))
    assert out.shape == (3, P) and ((out >= 0) & (out <= 1)).all()


def test_forward_accepts_mono_and_silence():
    model = small_model().eval()
    with torch.no_grad():
        mono = model(noise(2, 1, 16384), torch.zeros(2, 1, 16384))
        dup = model(noise(2, 1, 16384).repeat(1, 2, 1), torch.zeros(2, 2, 16384))
    assert torch.isfinite(mono).all()
    assert torch.allclose(mono, dup, atol=1e-5)


def test_gradients_reach_encoder_and_controller():
    model = small_model().train()
    x, ref = noise(2, 2, 16384, seed=1), torch.zeros(2, 2, 16384)  # silent reference included
    target = torch.rand(2, P, generator=torch.Generator().manual_seed(3))
    loss = (model(x, ref) - target).square().mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert model.encoder.cnn[0][0].weight.grad.abs().sum() > 0  # first conv
    assert model.controller.net[0].weight.grad.abs().sum() > 0
    assert model.controller.out.bias.grad.abs().sum() > 0


def test_untrained_output_starts_at_the_neutral_chain():
    default = torch.rand(P, generator=torch.Generator().manual_seed(4)) * 0.9 + 0.05
    default[0], default[1] = 0.0, 1.0  # ends of a range must not give infinite logits
    model = small_model(default_unit=default).eval()
    with torch.no_grad():
        out = model(noise(4, 2, 16384, seed=1), noise(4, 2, 16384, seed=2, scale=0.5))
    assert (out - default).abs().max() < 0.02

    controller = Controller(8, 4, 3, default_unit=torch.tensor([0.2, 0.5, 0.9])).eval()
    z = torch.randn(5, 8)
    d = torch.randn(5, 4)
    assert torch.allclose(controller(z, z, d, d), torch.tensor([0.2, 0.5, 0.9]).expand(5, 3), atol=0.02)
    with pytest.raises(ValueError):
        Controller(8, 4, 3, default_unit=torch.zeros(4))


def test_excerpts_cover_the_whole_track():
    model = small_model(max_excerpts=8)
    length = model.excerpt_frames
    track = noise(2, 10 * length + 123)
    ex = model.excerpts(track)
    assert ex.shape == (8, 2, length)
    assert torch.equal(ex[0], track[:, :length])
    assert torch.equal(ex[-1], track[:, -length:])
    # a track of 3 excerpts' length gets 3, not 8 overlapping copies
    assert model.excerpts(noise(2, 3 * length)).shape[0] == 3
    # a short track is analysed whole, not padded with silence the encoder would count
    short = noise(2, length // 3)
    assert torch.equal(model.excerpts(short), short[None])


def test_whole_track_analysis_hears_the_second_half():
    model = small_model()
    length = model.excerpt_frames
    # first half: quiet, dark (integrated, brown) noise; second half: loud white noise
    dark = torch.cumsum(noise(2, 4 * length, seed=1), dim=-1)
    dark = 0.01 * (dark - dark.mean(dim=-1, keepdim=True)) / dark.std()
    track = torch.cat([dark, noise(2, 4 * length, seed=2, scale=0.5)], dim=-1)
    emb, desc = model.embed_track(track)
    emb_first, desc_first = model.embed_track(track[:, :length])
    emb_first_half, _ = model.embed_track(track[:, : 4 * length])
    assert emb.shape == (SMALL["embed_dim"],) and desc.shape == (len(DESCRIPTOR_NAMES),)
    # the loud second half dominates integrated loudness (gating drops the quiet part's weight)
    assert desc[LOUD] * 20 > desc_first[LOUD] * 20 + 20
    # the pooled embedding moves away from the opening far more than the first half varies
    assert (emb - emb_first).norm() > 5 * (emb_first_half - emb_first).norm()


def test_predict_track_with_reference_or_precomputed_style():
    model = small_model().train()  # predict_track must analyse deterministically anyway
    mix = noise(2, 50000, seed=1, scale=0.05)
    ref = noise(1, 70000, seed=2, scale=0.3)  # mono reference
    by_track = model.predict_track(mix, ref)
    assert model.training  # the caller's mode is restored
    emb, desc = model.embed_track(ref)
    by_style = model.predict_track(mix, reference_embedding=emb, reference_descriptors=desc)
    assert by_track.shape == (P,) and ((by_track >= 0) & (by_track <= 1)).all()
    assert torch.allclose(by_track, by_style, atol=1e-6)
    assert torch.equal(model.predict_track(mix, ref), by_track)  # no dropout at analysis
    with pytest.raises(ValueError):
        model.predict_track(mix)
    with pytest.raises(ValueError):
        model.predict_track(mix, ref, reference_embedding=emb, reference_descriptors=desc)
    with pytest.raises(ValueError):
        model.predict_track(mix, reference_embedding=emb)
    with pytest.raises(ValueError):
        model.predict_track(mix[None], ref)


def test_param_names_must_match_n_params():
    with pytest.raises(ValueError):
        MasteringModel(3, param_names=["a", "b"])


def test_model_for_the_chain_table_starts_neutral():
    from tonematch.models.chain import TABLE

    torch.manual_seed(0)
    model = MasteringModel.for_table(TABLE, sample_rate=48000, excerpt_frames=16384, encoder_kwargs=SMALL).eval()
    assert model.n_params == len(TABLE) and model.param_names == TABLE.learned_keys
    with torch.no_grad():
        u = model(noise(2, 2, 24000, seed=1), noise(2, 2, 24000, seed=2))
    physical = TABLE.from_unit(u, 48000)
    defaults = TABLE.defaults(48000)
    for key in TABLE.learned_keys:
        low, high = TABLE.by_key[key].spec.bounds(48000)
        # within ~2 % of each range of the neutral setting (range ends start 1 % inside)
        assert (physical[key] - defaults[key]).abs().max() <= 0.03 * (high - low), key
