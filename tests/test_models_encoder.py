"""The analysis front end: log-mel CNN encoder and exact descriptors."""

import math

import librosa
import pytest
import torch

from tonematch.models.descriptors import DESCRIPTOR_NAMES, describe
from tonematch.models.encoder import SpectrogramEncoder

SR = 44100
IDX = {name: i for i, name in enumerate(DESCRIPTOR_NAMES)}
BANDS = [i for name, i in IDX.items() if name.startswith("band_")]


def noise(*shape, seed=0, scale=0.1):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g)


def pink(n, seed=0):
    """1/f power noise, shaped in the frequency domain, normalised to RMS 0.1."""
    spec = torch.fft.rfft(noise(n, seed=seed))
    f = torch.arange(spec.shape[-1]).clamp(min=1).float()
    x = torch.fft.irfft(spec / f.sqrt(), n=n)
    return 0.1 * x / x.square().mean().sqrt()


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return SpectrogramEncoder(SR).eval()


def test_encoder_shape_and_finite(encoder):
    with torch.no_grad():
        out = encoder(noise(3, 2, 32768))
        silent = encoder(torch.zeros(1, 2, 32768))
    assert out.shape == (3, 256)
    assert torch.isfinite(out).all() and torch.isfinite(silent).all()


def test_encoder_mono_input_equals_duplicated_stereo(encoder):
    x = noise(2, 1, 16384)
    with torch.no_grad():
        assert torch.allclose(encoder(x), encoder(x.repeat(1, 2, 1)), atol=1e-5)


def test_encoder_short_input_is_padded_to_its_minimum(encoder):
    with torch.no_grad():
        out = encoder(noise(1, 2, 1000))
    assert out.shape == (1, 256) and torch.isfinite(out).all()


def test_encoder_hears_stereo_image(encoder):
    left = noise(1, 1, 32768, seed=1)
    mono = left.repeat(1, 2, 1)
    wide = torch.cat([left, noise(1, 1, 32768, seed=2)], dim=1)  # decorrelated right channel
    other_mono = noise(1, 1, 32768, seed=3).repeat(1, 2, 1)  # same statistics as `mono`
    with torch.no_grad():
        e_mono, e_wide, e_other = encoder(torch.cat([mono, wide, other_mono]))
    # the image changes the embedding far more than a new realisation of the same noise does
    assert (e_mono - e_wide).norm() > 5 * (e_mono - e_other).norm()


@pytest.mark.parametrize("rate", [22050, 48000, 96000])
def test_encoder_front_end_follows_sample_rate(rate):
    enc = SpectrogramEncoder(rate).eval()
    # the analysis window lasts the same time at every rate
    assert enc.n_fft / rate == pytest.approx(2048 / 44100, rel=1e-3)
    assert enc.hop / rate == pytest.approx(512 / 44100, rel=1e-2)
    assert (enc.mel.sum(dim=1) > 0).all()  # no empty mel band, even at 22.05 kHz
    with torch.no_grad():
        out = enc(noise(2, 2, rate // 2))
    assert out.shape == (2, 256) and torch.isfinite(out).all()


def test_encoder_sine_lands_in_the_right_mel_band(encoder):
    t = torch.arange(32768) / SR
    feats = encoder.features(torch.sin(2 * math.pi * 1000.0 * t).expand(1, 2, -1))
    mid = feats[0, 0].mean(dim=-1)
    centres = librosa.mel_frequencies(n_mels=96 + 2, fmin=20.0, fmax=20000.0)[1:-1]
    assert abs(centres[int(mid.argmax())] - 1000.0) < 60.0
    assert feats[0, 1].max() * 20 <= -99.0  # L = R: the side plane is silent


# --- descriptors -------------------------------------------------------------------------------


def test_descriptor_shape_and_names():
    d = describe(noise(4, 2, 8192), SR)
    assert d.shape == (4, len(DESCRIPTOR_NAMES)) == (4, 14 + 1 + 16 + 4)
    assert d.abs().max() < 6.0  # O(1) scale


def test_gain_moves_level_descriptors_by_exactly_the_gain():
    x = noise(2, 2, 65536)
    d0, d1 = describe(x, SR), describe(x * 10 ** (-6 / 20), SR)
    delta = (d1 - d0) * 20.0  # back to dB
    for name in ("loudness", "rms", "peak"):
        assert torch.allclose(delta[:, IDX[name]], torch.tensor(-6.0), atol=1e-3), name
    unchanged = [IDX["crest"], IDX["width"], IDX["centroid"], *BANDS]
    assert torch.allclose(d1[:, unchanged], d0[:, unchanged], atol=1e-4)


def test_loudness_is_gated_but_rms_is_not():
    x = noise(1, 2, 5 * SR)
    padded = torch.cat([x, torch.zeros_like(x)], dim=-1)  # the same music, then as much silence
    d0, d1 = describe(x, SR)[0] * 20, describe(padded, SR)[0] * 20
    # only the three 400 ms blocks straddling the edge differ: a fraction of a dB over 5 s
    assert d1[IDX["loudness"]] == pytest.approx(d0[IDX["loudness"]].item(), abs=0.25)
    assert d1[IDX["rms"]] == pytest.approx(d0[IDX["rms"]].item() - 10 * math.log10(2), abs=0.01)


def test_silence_is_finite():
    for shape in [(2, 2, 44100), (1, 1, 10), (1, 2, 1)]:
        d = describe(torch.zeros(shape), SR)
        assert torch.isfinite(d).all(), shape
    assert describe(torch.zeros(1, 2, 44100), SR)[0, IDX["loudness"]] * 20 == pytest.approx(-70.0)


def test_brighter_signal_has_higher_centroid_and_more_treble():
    white = noise(1, 1, 131072).repeat(1, 2, 1)
    pinkish = pink(131072).expand(1, 2, -1)
    dw, dp = describe(white, SR)[0], describe(pinkish, SR)[0]
    assert dw[IDX["centroid"]] > dp[IDX["centroid"]] + 0.3
    assert dw[IDX["band_7"]] > dp[IDX["band_7"]]
    assert dw[IDX["band_0"]] < dp[IDX["band_0"]]
    # pink noise: equal energy per octave, so the log-spaced bands come out nearly equal
    pink_bands = dp[BANDS] * 20
    assert pink_bands.max() - pink_bands.min() < 2.0


def test_band_shares_add_up_to_the_whole():
    d = describe(noise(3, 2, 65536), SR)
    shares = (10 ** (d[:, BANDS] * 20 / 10)).sum(dim=-1)
    # white noise: everything between 20 Hz and 20 kHz is ~ all of it
    assert torch.allclose(shares, torch.ones(3), atol=0.03)


def test_width_reads_mono_and_decorrelated_stereo():
    left = noise(1, 1, 65536, seed=4)
    mono = describe(left.repeat(1, 2, 1), SR)[0, IDX["width"]] * 20
    mono_channel = describe(left, SR)[0, IDX["width"]] * 20
    wide = describe(torch.cat([left, noise(1, 1, 65536, seed=5)], dim=1), SR)[0, IDX["width"]] * 20
    assert mono == pytest.approx(-40.0) and mono_channel == pytest.approx(-40.0)
    assert abs(wide) < 0.2  # independent channels: side and mid carry equal energy


def test_mono_input_describes_like_duplicated_stereo():
    x = noise(2, 1, 32768)
    assert torch.allclose(describe(x, SR), describe(x.repeat(1, 2, 1), SR), atol=1e-5)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_loudness_matches_the_chains_bs1770_meter(rate):
    from tonematch.models.chain.loudness import loudness_lufs

    clips = torch.cat([pink(3 * rate).expand(1, 2, -1), noise(1, 2, 3 * rate, seed=7, scale=0.3)])
    ours = describe(clips, rate)[:, IDX["loudness"]] * 20
    # same K-weighting and gates; only the filter's first milliseconds differ (circular FFT)
    assert torch.allclose(ours.double(), loudness_lufs(clips, rate), atol=0.02)


def test_descriptors_stay_exact_under_mixed_precision():
    left = noise(1, 1, 32768, seed=8)
    near_mono = torch.cat([left, left + 0.03 * noise(1, 1, 32768, seed=9)], dim=1)  # side at -36 dB
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        d = describe(near_mono, SR)
    assert d.dtype == torch.float32
    assert torch.allclose(d, describe(near_mono, SR))
