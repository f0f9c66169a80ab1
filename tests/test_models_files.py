"""Model files: safetensors + JSON round trips and the checks on loading."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from tonematch.data.errors import TonematchError
from tonematch.models.chain.params import Entry, ParamSpec, ParamTable
from tonematch.models.files import load_model, save_model
from tonematch.models.model import MasteringModel

SMALL = {"channels": [8, 16, 16, 16], "n_mels": 32, "embed_dim": 32}


def table() -> ParamTable:
    return ParamTable(
        [
            Entry("eq", "low", ParamSpec("gain_db", "dB", -12.0, 12.0, "lin", 0.0)),
            Entry("eq", "low", ParamSpec("freq_hz", "Hz", 30.0, 300.0, "log", 100.0)),
            Entry("compressor", None, ParamSpec("threshold_db", "dB", -40.0, 0.0, "lin", 0.0)),
            Entry("limiter", None, ParamSpec("ceiling_dbtp", "dBTP", -3.0, 0.0, "lin", -1.0, learned=False)),
        ]
    )


def noise(*shape, seed=0, scale=0.1):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=g)


@pytest.fixture
def model():
    torch.manual_seed(0)
    names = table().learned_keys
    m = MasteringModel(
        len(names),
        sample_rate=48000,
        excerpt_frames=16384,
        max_excerpts=4,
        encoder_kwargs=SMALL,
        controller_kwargs={"hidden": 48, "dropout": 0.2},
        param_names=names,
    )
    with torch.no_grad():  # move the weights away from their init so a rebuilt model can't pass
        for p in m.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return m.eval()


def test_round_trip_gives_identical_outputs(model, tmp_path):
    card = {"version": "0.1.0", "training_data": "synthetic", "metrics": {"param_mae": 0.05}}
    save_model(model, tmp_path / "m", card)
    loaded, loaded_card = load_model(tmp_path / "m", expected_param_names=table().learned_keys)
    x, ref = noise(2, 2, 12000, seed=1), noise(2, 2, 12000, seed=2)
    with torch.no_grad():
        assert torch.equal(loaded(x, ref), model(x, ref))
    assert not loaded.training
    assert loaded_card["metrics"] == {"param_mae": 0.05} and loaded_card["version"] == "0.1.0"
    cfg = loaded_card["config"]
    assert cfg["n_params"] == 3 and cfg["sample_rate"] == 48000 and cfg["excerpt_frames"] == 16384
    assert cfg["param_names"] == table().learned_keys
    assert loaded.config() == model.config()
    # either file's name works as the stem
    again, _ = load_model(tmp_path / "m.safetensors")
    assert torch.equal(again.controller.out.bias, model.controller.out.bias)


def test_card_fields_cannot_override_the_config(model, tmp_path):
    save_model(model, tmp_path / "m", {"config": {"n_params": 99}})
    loaded, _ = load_model(tmp_path / "m")
    assert loaded.n_params == 3


def test_weights_file_is_plain_safetensors(model, tmp_path):
    save_model(model, tmp_path / "m", {})
    path = tmp_path / "m.safetensors"
    assert not path.read_bytes().startswith(b"\x80")  # no pickle protocol header
    tensors = load_file(str(path))  # safetensors alone, no torch.load
    # the state dict plus the encoder's derived buffers the numpy runtime reads
    assert set(tensors) == set(model.state_dict()) | {"encoder.mel", "encoder.window"}
    for key, value in model.state_dict().items():
        assert torch.equal(tensors[key], value)
    assert torch.equal(tensors["encoder.mel"], model.encoder.mel)
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata() == {"format": "pt"}
    card = json.loads((tmp_path / "m.json").read_text())
    assert card["format"] == "tonematch-model"


def test_mismatched_param_names_raise(model, tmp_path):
    save_model(model, tmp_path / "m", {})
    other = list(table().learned_keys)
    other[1] = "eq.low.q"
    with pytest.raises(TonematchError, match="eq.low.freq_hz") as err:
        load_model(tmp_path / "m", expected_param_names=other)
    assert "\n" not in str(err.value)
    with pytest.raises(TonematchError, match="3 parameters"):
        load_model(tmp_path / "m", expected_param_names=other + ["gain.db"])


def test_missing_and_damaged_files_raise(model, tmp_path):
    with pytest.raises(TonematchError, match="not found"):
        load_model(tmp_path / "nothing")
    save_model(model, tmp_path / "m", {})
    (tmp_path / "m.safetensors").write_bytes(b"not a tensor file at all")
    with pytest.raises(TonematchError, match="safetensors"):
        load_model(tmp_path / "m")
    (tmp_path / "m.json").write_text("{broken")
    with pytest.raises(TonematchError, match="card"):
        load_model(tmp_path / "m")


def test_weights_that_do_not_fit_the_config_raise(model, tmp_path):
    save_model(model, tmp_path / "m", {})
    card_path = tmp_path / "m.json"
    card = json.loads(card_path.read_text())
    card["config"]["controller_kwargs"]["hidden"] = 64  # config no longer matches the weights
    card_path.write_text(json.dumps(card))
    with pytest.raises(TonematchError, match="shape"):
        load_model(tmp_path / "m")
    state = load_file(str(tmp_path / "m.safetensors"))
    del state["controller.out.bias"]
    save_model(model, tmp_path / "k", {})
    save_file(state, str(tmp_path / "k.safetensors"))
    with pytest.raises(TonematchError, match="missing"):
        load_model(tmp_path / "k")


def test_a_typical_balance_travels_with_the_model_and_a_malformed_one_is_refused(model, tmp_path):
    balance = {"centres_hz": [100.0, 1000.0, 10000.0], "tone_db": [6.0, 0.0, -6.0]}
    save_model(model, tmp_path / "m", {"typical_balance": balance})
    loaded, card = load_model(tmp_path / "m")
    assert loaded.typical_balance == balance == card["typical_balance"]
    save_model(model, tmp_path / "plain", {})
    assert load_model(tmp_path / "plain")[0].typical_balance is None
    for bad in (
        {"centres_hz": [1000.0, 100.0], "tone_db": [0.0, 1.0]},  # not increasing
        {"centres_hz": [100.0, 1000.0], "tone_db": [0.0]},  # lengths differ
        {"centres_hz": [100.0, 1000.0]},  # no levels
        [1, 2, 3],
    ):
        save_model(model, tmp_path / "bad", {"typical_balance": bad})
        with pytest.raises(TonematchError, match="typical_balance"):
            load_model(tmp_path / "bad")
