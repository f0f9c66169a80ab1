"""The Python API refuses what the command line refuses, in a TonematchError with the same
words, and says in a UserWarning what the command line says in a warning line."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import soundfile as sf

import tonematch
from tonematch import Settings, TonematchError
from tonematch.inference.cli import main

from signals import music_like

SR = 44100


@pytest.fixture(scope="module")
def mix_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "mix.wav"
    sf.write(path, music_like(3.0, SR, seed=4).T, SR, subtype="PCM_24")
    return path


def test_render_refuses_settings_a_file_could_not_hold(mix_wav):
    partial = Settings({"gain.gain_db": 1.0}, SR)
    with pytest.raises(TonematchError, match="settings lack .* parameter"):
        tonematch.render(str(mix_wav), partial)
    odd = Settings.defaults(SR)
    odd = Settings(odd.values, SR, odd.bypass | {"eq.bogus"})
    with pytest.raises(TonematchError, match="unknown processor or band in bypass: 'eq.bogus'"):
        tonematch.render(str(mix_wav), odd)


def test_render_reads_a_file_at_its_own_rate_and_says_what_the_rate_moves(mix_wav, tmp_path):
    with pytest.raises(TonematchError, match="sample_rate=48000 does not apply to .*own rate \\(44100 Hz\\)"):
        tonematch.render(str(mix_wav), Settings.defaults(SR), sample_rate=48000)
    low = tmp_path / "mix22.wav"
    sf.write(low, music_like(3.0, 22050, seed=4).T, 22050, subtype="PCM_24")
    settings = Settings.defaults(SR)
    settings.values["eq.high_shelf.freq_hz"] = 16000.0  # a 44.1 kHz master's, above what 22.05 kHz allows
    settings.values["eq.high_shelf.gain_db"] = 2.0
    with pytest.warns(UserWarning, match="16000 Hz is above what 22050 Hz allows"):
        y = tonematch.render(str(low), settings)
    assert y.shape[0] == 2
    with pytest.warns(UserWarning, match="16000 Hz is above what 22050 Hz allows"):
        tonematch.render(str(low), settings, str(tmp_path / "o.wav"), bit_depth=16)
    assert sf.info(str(tmp_path / "o.wav")).subtype == "PCM_16"
    with pytest.raises(TonematchError, match="bit_depth= applies to a file written"):
        tonematch.render(str(low), settings, bit_depth=16)


def test_render_refuses_a_file_at_a_rate_tonematch_does_not_work_at(tmp_path):
    """A 4 kHz file read to an array is refused for its rate, as the command refuses it."""
    path = str(tmp_path / "low.wav")
    sf.write(path, music_like(1.0, SR)[:, ::11].T, 4009, subtype="PCM_16")
    with pytest.raises(TonematchError, match=r"cannot render '.*low.wav': its sample rate 4009 Hz is outside"):
        tonematch.render(path, Settings.defaults(SR))


def test_render_refuses_an_array_shorter_than_a_loudness_block():
    """As the command refuses such a file: 0.05 s would be read as silence and pushed +40 dB."""
    x = music_like(1.0, SR)[:, :2205]
    with pytest.raises(TonematchError, match="cannot render the mix array: it lasts 0.05 s; at least 0.4 s"):
        tonematch.render(x, Settings.defaults(SR), sample_rate=SR)


def test_render_over_full_scale_is_a_warning(mix_wav):
    loud = Settings.defaults(SR)
    loud = Settings(loud.values, SR, loud.bypass | {"limiter"})
    loud.values["loudness.target_lufs"] = -6.0
    with pytest.warns(UserWarning, match="over full scale: a float file keeps it, .*limiter is off"):
        tonematch.render(str(mix_wav), loud)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tonematch.render(str(mix_wav), Settings.defaults(SR))  # the limiter holds the ceiling: no word


def test_settings_files_refuse_folders_and_write_numpy_numbers(tmp_path):
    with pytest.raises(TonematchError, match="it is a folder"):
        Settings.from_json(str(tmp_path))
    s = Settings.defaults(SR)
    with pytest.raises(TonematchError, match="it is a folder"):
        s.to_json(str(tmp_path))
    s.values["gain.gain_db"] = np.float32(1.5)
    s.to_json(str(tmp_path / "s.json"))
    assert Settings.from_json(str(tmp_path / "s.json")).values["gain.gain_db"] == 1.5
    for bad in ("x", 0, 44100.5):
        with pytest.raises(TonematchError, match="'sample_rate' must be a whole number of Hz"):
            Settings.defaults(bad)


def test_an_edit_undone_is_no_edit(tmp_path):
    s = Settings.defaults(SR).stamped({"started_from": "network"})
    s.values["gain.gain_db"] = 2.0
    s.to_json(str(tmp_path / "edited.json"))
    back = Settings.from_json(str(tmp_path / "edited.json"))
    assert back.edited and back.to_dict()["source"]["edited"] is True
    back.values["gain.gain_db"] = Settings.defaults(SR).values["gain.gain_db"]
    assert not back.edited and "edited" not in back.to_dict()["source"]


def test_a_reordered_chain_is_refused_not_silently_reordered(tmp_path, capsys, mix_wav):
    d = Settings.defaults(SR).to_dict()
    d["chain"] = d["chain"][::-1]
    with pytest.raises(TonematchError, match="'limiter' is listed after 'loudness', but the chain's order is fixed"):
        Settings.from_dict(d)
    params = tmp_path / "reversed.json"
    params.write_text(json.dumps(d))
    assert main(["render", str(mix_wav), "--params", str(params), "-o", str(tmp_path / "o.wav")]) == 2
    assert "the chain's order is fixed (gain -> eq -> match -> compressor -> width -> limiter -> loudness)" in (
        capsys.readouterr().err
    )


def test_a_result_is_never_written_over_its_mix(tmp_path, example_mix, example_reference):
    mix = tmp_path / "mix.flac"
    mix.write_bytes(open(example_mix, "rb").read())
    before = mix.read_bytes()
    result = tonematch.match(str(mix), str(example_reference), refine=False)
    with pytest.raises(TonematchError, match="is the mix this master was made from"):
        result.write(str(mix))
    assert mix.read_bytes() == before
    with pytest.raises(TonematchError, match=r"write\(\) takes a file path \(str or Path\), not int"):
        result.write(5)
    result.write(str(tmp_path / "master.flac"))
    assert "literal" not in result.settings.source  # no refinement, no copy of the reference
    refined = tonematch.match(str(mix), str(example_reference), steps=2, literal=1.0)
    assert refined.settings.source["literal"] == 1.0  # the provenance says how literally


def test_master_has_no_reference_to_copy(example_mix):
    with pytest.raises(TonematchError, match="literal= is for matching a reference"):
        tonematch.master(str(example_mix), "any.tmstyle", literal=1.0)


def test_the_lazy_api_is_listed():
    assert {"match", "master", "render", "analyze", "Settings", "TonematchError"} <= set(dir(tonematch))


def test_list_params_beside_a_render_is_refused(capsys, mix_wav, tmp_path):
    code = main(["render", str(mix_wav), "--params", "x.json", "-o", str(tmp_path / "o.wav"), "--list-params"])
    assert code == 2 and "--list-params only prints the table" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("steps", [3.5, np.float32(3.5), np.float16(2.5), np.float32("inf"), np.float64("nan")])
def test_a_step_count_that_is_no_whole_number_is_refused_whatever_its_type(steps):
    from tonematch.inference.api import options_of

    with pytest.raises(TonematchError, match="steps must be a whole number"):
        options_of({"steps": steps})
    assert options_of({"steps": np.float32(3.0)}).steps == 3 == options_of({"steps": np.int64(3)}).steps


def test_a_bad_rate_or_a_missing_reference_is_named_as_the_caller_gave_it():
    x = music_like(3.0, SR, seed=4)
    # were "invalid sample_rate of the reference 44100.5" (the rate was the mix's too) and
    # "the reference array must be an array of samples, got NoneType"
    with pytest.raises(TonematchError, match=r"^invalid sample_rate 44100\.5"):
        tonematch.match(x, x, sample_rate=44100.5)
    with pytest.raises(TonematchError, match="^match needs a reference"):
        tonematch.match(x, None, sample_rate=SR)
