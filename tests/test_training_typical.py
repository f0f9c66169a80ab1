"""The typical tonal balance of a training folder, written into a model's card."""

import json

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import lfilter

from tonematch.data.errors import TonematchError
from tonematch.models.files import load_model, save_model, set_card_field
from tonematch.training import typical

from signals import music_like

SR = 44100


def _folder(path, coloured):
    """Four tracks of music_like, each through `coloured` (a first-order filter)."""
    path.mkdir()
    for i in range(4):
        x = coloured(music_like(4.0, SR, seed=20 + i))
        sf.write(str(path / f"t{i}.wav"), x.T.astype(np.float32), SR, subtype="FLOAT")
    return path


def _treble_over_bass(balance) -> float:
    centres, tone = np.asarray(balance["centres_hz"]), np.asarray(balance["tone_db"])
    return float(tone[(centres > 3000) & (centres < 10000)].mean() - tone[(centres > 60) & (centres < 250)].mean())


def test_a_brighter_folder_has_a_brighter_typical_balance(tmp_path):
    bright = _folder(tmp_path / "bright", lambda x: lfilter([1.0, -0.9], [1.0], x, axis=-1))  # +~20 dB treble
    dark = _folder(tmp_path / "dark", lambda x: lfilter([0.1], [1.0, -0.9], x, axis=-1))
    got = {k: typical.typical_balance(f, 0.0, 0.0) for k, f in (("bright", bright), ("dark", dark))}
    assert got["bright"]["tracks"] == got["dark"]["tracks"] == 4
    assert _treble_over_bass(got["bright"]) > _treble_over_bass(got["dark"]) + 15.0
    assert got["bright"]["centres_hz"] == got["dark"]["centres_hz"]


def test_the_command_writes_the_balance_into_the_card_and_refuses_a_missing_one(tmp_path, capsys):
    from test_models_files import table

    from tonematch.models.model import MasteringModel

    music = _folder(tmp_path / "music", lambda x: x)
    names = table().learned_keys
    model = MasteringModel(len(names), sample_rate=48000, excerpt_frames=16384, param_names=names)
    save_model(model.eval(), tmp_path / "m", {"name": "small"})
    stem = str(tmp_path / "m")
    assert typical.main([str(music), "-o", stem, "--val-fraction", "0", "--test-fraction", "0"]) == 0
    card = json.loads((tmp_path / "m.json").read_text())
    assert card["name"] == "small" and card["typical_balance"]["tracks"] == 4
    assert load_model(stem)[0].typical_balance == card["typical_balance"]
    capsys.readouterr()
    assert typical.main([str(music), "-o", str(tmp_path / "none")]) == 2
    (line,) = capsys.readouterr().err.splitlines()  # one line, named after the command
    assert line.startswith("python -m tonematch.training.typical: error: model card not found")
    with pytest.raises(TonematchError, match="written by tonematch-export"):
        set_card_field(stem, "config", {})
