"""The numpy runtime (models/numpy_runtime.py) computes what the torch model computes, on the same file."""

import numpy as np
import pytest
import torch

from tonematch.data.errors import TonematchError
from tonematch.models import numpy_runtime
from tonematch.models.files import DEFAULT_MODEL, load_model, save_model
from tonematch.models.model import MasteringModel

from signals import music_like

P = 31


def _trained_looking(model: MasteringModel) -> MasteringModel:
    """Random weights of a realistic size (the initial last layer is nearly flat: every input
    would map to the bias and a broken encoder would go unnoticed)."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    return model.eval()


@pytest.fixture(scope="module", params=[(22050, (8, 16, 16, 16)), (48000, (8, 16, 24, 32, 32))])
def pair(request, tmp_path_factory):
    rate, channels = request.param
    torch.manual_seed(0)
    model = MasteringModel(
        P,
        sample_rate=rate,
        excerpt_frames=16384,
        max_excerpts=3,
        encoder_kwargs={"channels": channels, "n_mels": 32, "embed_dim": 24},
        controller_kwargs={"hidden": 48},
    )
    stem = tmp_path_factory.mktemp("numpy_runtime") / "m"
    save_model(_trained_looking(model), stem)
    return model, numpy_runtime.load(stem)


@pytest.mark.parametrize("mix_shape", [(2, 60000), (1, 60000), (2, 9000), (2, 2000)])
def test_prediction_equals_the_torch_model(pair, mix_shape):
    """Stereo and mono, several excerpts, one short excerpt, and a clip shorter than the STFT
    needs (padded): the same [0, 1] settings to float32 rounding."""
    model, fast = pair
    rng = np.random.default_rng(1)
    mix = (0.2 * rng.standard_normal(mix_shape)).astype(np.float32)
    ref = music_like(2.0, model.sample_rate, seed=4)
    with torch.no_grad():
        want = model.predict_track(torch.from_numpy(mix), reference=torch.from_numpy(ref)).double().numpy()
    got = fast.predict_track(mix, reference=ref)
    assert got.shape == (P,)
    assert np.abs(got - want).max() < 2e-5
    assert want.std() > 0.05  # the outputs vary: the comparison means something


def test_embedding_and_descriptors_equal_the_torch_model(pair):
    model, fast = pair
    x = music_like(3.0, model.sample_rate, seed=5)
    with torch.no_grad():
        emb, desc = model.embed_track(torch.from_numpy(x))
    emb_np, desc_np = fast.embed_track(x)
    assert np.abs(emb_np - emb.numpy()).max() < 1e-4
    assert np.array_equal(desc_np, desc.numpy())  # one descriptor implementation
    # a precomputed target (a style) gives what the reference track gives
    mix = music_like(2.0, model.sample_rate, seed=6)
    direct = fast.predict_track(mix, reference=x)
    stored = fast.predict_track(mix, reference_embedding=emb_np, reference_descriptors=desc_np)
    assert np.abs(direct - stored).max() < 1e-6


def test_shipped_model_runs_the_same_in_both_runtimes():
    model, _ = load_model(DEFAULT_MODEL)
    fast = numpy_runtime.load(DEFAULT_MODEL)
    mix = 0.3 * music_like(8.0, model.sample_rate, seed=8)
    ref = music_like(8.0, model.sample_rate, seed=9)
    with torch.no_grad():
        want = model.predict_track(torch.from_numpy(mix), reference=torch.from_numpy(ref)).double().numpy()
    assert np.abs(fast.predict_track(mix, reference=ref) - want).max() < 2e-5
    # both carry the balance refinement reads references against (training/typical.py)
    assert fast.typical_balance == model.typical_balance and fast.typical_balance["tracks"] > 50


def test_a_file_without_the_filterbank_is_refused(pair, tmp_path):
    from safetensors.numpy import load_file, save_file

    model, _ = pair
    stem = tmp_path / "old"
    save_model(model, stem)
    tensors = load_file(str(stem) + ".safetensors")
    del tensors["encoder.mel"]
    save_file(tensors, str(stem) + ".safetensors")
    with pytest.raises(TonematchError, match="encoder.mel.*tonematch-export"):
        numpy_runtime.load(stem)
    load_model(stem)  # the torch model rebuilds it


def test_non_finite_weights_are_refused(pair, tmp_path):
    from safetensors.numpy import load_file, save_file

    model, _ = pair
    stem = tmp_path / "nan"
    save_model(model, stem)
    tensors = load_file(str(stem) + ".safetensors")
    tensors["controller.out.bias"][0] = np.nan
    save_file(tensors, str(stem) + ".safetensors")
    with pytest.raises(TonematchError, match="NaN"):
        numpy_runtime.load(stem)
