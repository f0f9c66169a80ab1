"""`tonematch match` end to end on the shipped example: outputs, settings that reproduce the
output bit for bit, loudness and ceiling, neutral amount, groups, platforms, batches, mono, errors."""

import json

import numpy as np
import pytest
import soundfile as sf

import tonematch
from tonematch.inference.cli import main
from tonematch.models.measure.loudness import integrated_loudness

from signals import music_like, true_peak_db

FAST = ["--steps", "30"]


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _read(path):
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    return x.T, sr


def test_match_masters_the_example_and_the_settings_reproduce_it(tmp_path, capsys, example_mix, example_reference):
    out = tmp_path / "out.wav"
    code, text, err = _run(capsys, "match", example_mix, "--reference", example_reference, "-o", out, "--report", *FAST)
    assert code == 0, err
    assert out.is_file() and (tmp_path / "out.json").is_file() and (tmp_path / "out.png").is_file()
    assert "EQ:" in text and "compressor:" in text and "loudness:" in text and "dBTP" in text
    y, sr = _read(out)
    ref, ref_sr = _read(example_reference)
    assert y.shape[0] == 2 and sr == 44100
    assert integrated_loudness(y, sr) == pytest.approx(integrated_loudness(ref, ref_sr), abs=0.5)
    assert true_peak_db(y, 16) <= -1.0 + 0.05
    again = tmp_path / "again.wav"
    code, _, err = _run(capsys, "render", example_mix, "--params", tmp_path / "out.json", "-o", again)
    assert code == 0, err
    assert again.read_bytes() == out.read_bytes()


def test_amount_zero_without_loudness_returns_the_mix(tmp_path, capsys, example_mix, example_reference):
    out = tmp_path / "neutral.wav"
    code, _, err = _run(
        capsys,
        "match",
        example_mix,
        "-r",
        example_reference,
        "-o",
        out,
        "--amount",
        "0",
        "--skip",
        "loudness",
        "--no-refine",
        "--no-dither",
    )
    assert code == 0, err
    x, _ = _read(example_mix)
    y, _ = _read(out)
    assert np.abs(y - x).max() < 1e-3
    settings = json.loads((tmp_path / "neutral.json").read_text())
    eq = next(p for p in settings["chain"] if p["processor"] == "eq")
    assert eq["highpass"].get("enabled") is False


def test_platform_sets_loudness_and_ceiling(tmp_path, capsys, example_mix, example_reference):
    code, text, _ = _run(capsys, "match", "--platform", "list")
    assert code == 0 and "amazon" in text and "-2.0 dBTP" in text
    out = tmp_path / "amazon.flac"
    code, _, err = _run(
        capsys, "match", example_mix, "-r", example_reference, "-o", out, "--platform", "amazon", "--no-refine"
    )
    assert code == 0, err
    chain = {p["processor"]: p for p in json.loads((tmp_path / "amazon.json").read_text())["chain"]}
    assert chain["loudness"]["target_lufs"] == -14.0 and chain["limiter"]["ceiling_dbtp"] == -2.0
    y, sr = _read(out)
    assert integrated_loudness(y, sr) == pytest.approx(-14.0, abs=0.2)
    assert true_peak_db(y, 16) <= -2.0 + 0.05


def test_only_eq_switches_the_other_groups_off(tmp_path, capsys, example_mix, example_reference):
    out = tmp_path / "eq_only.wav"
    code, _, err = _run(capsys, "match", example_mix, "-r", example_reference, "-o", out, "--only", "eq", *FAST)
    assert code == 0, err
    chain = {p["processor"]: p for p in json.loads((tmp_path / "eq_only.json").read_text())["chain"]}
    for proc in ("compressor", "width", "loudness", "gain"):
        assert chain[proc].get("enabled") is False, proc
    assert chain["eq"].get("enabled", True) is True


def test_mono_stays_mono_and_a_batch_skips_a_bad_file(tmp_path, capsys, example_reference):
    mixes = tmp_path / "mixes"
    mixes.mkdir()
    stereo = music_like(5.0, 44100, seed=2)
    sf.write(mixes / "a_mono.wav", stereo[0], 44100, subtype="PCM_24")
    sf.write(mixes / "b_stereo.flac", stereo.T, 44100, subtype="PCM_16")
    (mixes / "c_broken.wav").write_bytes(b"RIFF0000WAVEnot audio at all")
    out = tmp_path / "out"
    code, text, err = _run(capsys, "match", mixes, "-r", example_reference, "-o", out, *FAST)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("tonematch: error:")]
    assert len(errors) == 1 and "c_broken.wav" in errors[0]
    mono, _ = _read(out / "a_mono.wav")
    assert mono.shape[0] == 1
    # a mono mix has no side to widen: its settings and summary claim no width move
    chain = {p["processor"]: p for p in json.loads((out / "a_mono.json").read_text())["chain"]}
    assert chain["width"].get("enabled") is False and "width: unchanged (mono)" in text
    assert (out / "b_stereo.flac").is_file() and (out / "b_stereo.json").is_file()
    assert not (out / "c_broken.wav").exists()


def test_a_mono_reference_leaves_a_stereo_mix_its_width(tmp_path, capsys, example_mix, example_reference):
    """A mono reference has no width to follow (the network read it as a call to narrow by about
    a quarter): the width stays off, the run says why, and the master's side/mid is the mix's."""
    ref, sr = _read(example_reference)
    mono_ref = tmp_path / "mono_ref.wav"
    sf.write(mono_ref, ref.mean(axis=0), sr, subtype="PCM_24")
    out = tmp_path / "out.wav"
    code, text, err = _run(capsys, "match", example_mix, "-r", mono_ref, "-o", out, *FAST)
    assert code == 0, err
    chain = {p["processor"]: p for p in json.loads((tmp_path / "out.json").read_text())["chain"]}
    assert chain["width"].get("enabled") is False
    assert "the reference is mono: it has no width to follow, so the mix keeps its own" in text

    def side_over_mid_db(x):
        return 10 * np.log10(np.sum((x[0] - x[1]) ** 2) / np.sum((x[0] + x[1]) ** 2))

    x, _ = _read(example_mix)
    y, _ = _read(out)
    # the EQ and a limiter driven 13 dB shift full-band side/mid a little; the network's narrowing was 2.5 dB
    assert side_over_mid_db(y) == pytest.approx(side_over_mid_db(x), abs=1.0)


def test_a_reference_and_a_master_of_other_channel_counts_are_as_loud_as_played(
    tmp_path, capsys, example_mix, example_reference
):
    """A mono file plays on both speakers, 3 LU louder than BS.1770's one-channel reading: a
    stereo mix matched to a mono reference comes out as loud as when matched to the same
    reference as a dual-mono stereo file, and a mono mix matched to a stereo reference sits 3 LU
    under it (as loud when both play on two speakers). Each run says so."""
    ref, sr = _read(example_reference)
    mono = ref.mean(axis=0)
    sf.write(tmp_path / "mono_ref.wav", mono, sr, subtype="FLOAT")
    sf.write(tmp_path / "dual_ref.wav", np.stack([mono, mono]).T, sr, subtype="FLOAT")
    lufs = {}
    for name in ("mono_ref", "dual_ref"):
        out = tmp_path / f"{name}_out.wav"
        code, text, err = _run(capsys, "match", example_mix, "-r", tmp_path / f"{name}.wav", "-o", out, *FAST)
        assert code == 0, err
        lufs[name] = integrated_loudness(_read(out)[0], sr)
        assert ("as it plays on two speakers (+3.0 LU" in text) == (name == "mono_ref")
    assert lufs["mono_ref"] == pytest.approx(lufs["dual_ref"], abs=0.3)

    x, _ = _read(example_mix)
    sf.write(tmp_path / "mono_mix.wav", x.mean(axis=0), sr, subtype="FLOAT")
    code, text, err = _run(
        capsys, "match", tmp_path / "mono_mix.wav", "-r", example_reference, "-o", tmp_path / "m.wav", *FAST
    )
    assert code == 0, err
    assert "the mix is mono: its master sits 3.0 LU under the reference's loudness" in text
    y, _ = _read(tmp_path / "m.wav")
    assert integrated_loudness(y, sr) == pytest.approx(integrated_loudness(ref, sr) - 3.01, abs=0.3)


def test_a_batch_writes_what_single_runs_write_in_the_mixes_order(tmp_path, capsys, example_reference):
    mixes = tmp_path / "mixes"
    mixes.mkdir()
    for i, name in enumerate(("a", "c", "d")):
        sf.write(mixes / f"{name}.wav", (music_like(4.0, 44100, seed=10 + i) * (0.3 + 0.2 * i)).T, 44100)
    (mixes / "b_broken.wav").write_bytes(b"RIFF0000WAVEnot audio at all")
    code, text, err = _run(capsys, "match", mixes, "-r", example_reference, "-o", tmp_path / "out", *FAST)
    assert code == 1 and "b_broken.wav" in err
    assert [line.split()[0] for line in text.splitlines() if " -> " in line] == [
        str(mixes / f"{n}.wav") for n in ("a", "c", "d")
    ]
    for name in ("a", "c", "d"):
        one = tmp_path / f"{name}_alone.wav"
        assert _run(capsys, "match", mixes / f"{name}.wav", "-r", example_reference, "-o", one, *FAST)[0] == 0
        assert one.read_bytes() == (tmp_path / "out" / f"{name}.wav").read_bytes()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--reference", "REF"], "missing"),
        (["-r", "REF", "--amount", "2"], "--amount"),
        (["-r", "REF", "--only", "eq,loudnes"], "unknown group"),
        (["-r", "REF", "--only", ""], "--only names no group"),
        (["-r", "REF", "-o", "OUT.json"], "unsupported extension '.json'"),
        (["-r", "REF", "--only", " , "], "--only names no group"),
        (["-r", "REF", "--platform", "myspace"], "unknown platform"),
        (["-r", "/nonexistent.wav"], "nonexistent"),
    ],
)
def test_bad_options_give_one_error_line(tmp_path, capsys, example_mix, example_reference, args, needle):
    args = [str(example_reference) if a == "REF" else str(tmp_path / a) if a.startswith("OUT") else a for a in args]
    out = [] if needle == "missing" or "-o" in args else ["-o", str(tmp_path / "x.wav")]
    code, _, err = _run(capsys, "match", example_mix, *args, *out)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("tonematch: error:") and needle in lines[0]
    assert not any(tmp_path.iterdir())


def test_python_api_on_arrays(example_mix, example_reference):
    x, sr = _read(example_mix)
    result = tonematch.match(x, str(example_reference), sample_rate=sr, steps=20)
    assert result.audio.shape == x.shape and result.sample_rate == sr
    assert isinstance(result.settings, tonematch.Settings)
    assert result.settings.values["limiter.ceiling_dbtp"] <= -1.0
    again = tonematch.render(x, result.settings, sample_rate=sr)
    assert np.array_equal(again, result.audio)


def test_every_file_written_is_shareable(tmp_path, capsys, example_mix, example_reference):
    """The master, its settings, its report and a saved model get the permissions a plain open
    gives under the user's umask (temp files from mkstemp or safetensors start as 0600)."""
    import os
    import stat

    import torch

    from tonematch.models.files import save_model
    from tonematch.models.model import MasteringModel

    old = os.umask(0o022)
    try:
        out = tmp_path / "m.wav"
        code, _, err = _run(capsys, "match", example_mix, "-r", example_reference, "-o", out, "--no-refine", "--report")
        assert code == 0, err
        torch.manual_seed(0)
        small = MasteringModel(31, encoder_kwargs={"channels": (8, 8, 8, 8), "n_mels": 32, "embed_dim": 8})
        save_model(small, tmp_path / "model")
        for name in ("m.wav", "m.json", "m.png", "model.safetensors", "model.json"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    finally:
        os.umask(old)


def test_amount_zero_leaves_no_move_of_any_group():
    """scaled(settings, 0) is the mix itself wherever the limiter does not act: every gain,
    the compressor's ratio and make-up, the width and the high-pass back to neutral."""
    from tonematch.inference.match import scaled, with_groups
    from tonematch.models.chain.exact import render_array
    from tonematch.models.chain.settings import Settings

    sr = 44100
    x = music_like(3.0, sr, seed=5, level_db=-24)
    rng = np.random.default_rng(3)
    for _ in range(3):
        drawn = Settings.from_unit(rng.uniform(0.1, 0.9, len(tonematch.models.chain.TABLE.learned_keys)), sr)
        drawn.values["compressor.makeup_db"] = 4.0
        drawn.values["compressor.ratio"] = 4.0
        neutral = scaled(with_groups(drawn, ("eq", "dynamics", "width")), 0.0)
        assert neutral.values["compressor.makeup_db"] == 0.0 and neutral.values["compressor.ratio"] == 1.0
        assert np.abs(render_array(x, neutral, sr) - x).max() < 1e-6


def test_steps_zero_refines_nothing_and_says_so(tmp_path, capsys, example_mix, example_reference):
    out = tmp_path / "s0.wav"
    code, text, err = _run(capsys, "match", example_mix, "-r", example_reference, "-o", out, "--steps", "0")
    assert code == 0, err
    assert "settings from the network;" in text and "refined" not in text
    assert json.loads((tmp_path / "s0.json").read_text())["source"]["refined"] is False


def test_a_mix_with_a_dc_offset_is_mastered_without_it(tmp_path, capsys, example_mix, example_reference):
    """A DC offset is not music: the EQ's high-pass comes on to remove it (and the run says so),
    so the limiter works on the music and the loudness target is met; with the EQ off it is
    left in, and the run says that too."""
    x, sr = _read(example_mix)
    mix = tmp_path / "dc.wav"
    sf.write(mix, (0.5 * x + 0.2).T, sr, subtype="FLOAT")  # -14 dBFS of DC
    out = tmp_path / "out.wav"
    code, text, err = _run(capsys, "match", mix, "-r", example_reference, "-o", out, *FAST)
    assert code == 0 and err == "", err
    assert "the mix carries a DC offset (-14 dBFS): the high-pass at 20 Hz removes it" in text
    chain = {p["processor"]: p for p in json.loads((tmp_path / "out.json").read_text())["chain"]}
    assert chain["eq"]["highpass"].get("enabled", True) is True
    y, _ = _read(out)
    assert np.abs(y.mean(axis=1)).max() < 1e-3
    ref, ref_sr = _read(example_reference)
    assert integrated_loudness(y, sr) == pytest.approx(integrated_loudness(ref, ref_sr), abs=0.5)
    code, text, _ = _run(capsys, "match", mix, "-r", example_reference, "-o", tmp_path / "k.wav", "--skip", "eq")
    assert code == 0 and "left in: the EQ is off" in text


def test_a_reference_peaking_under_the_lowest_ceiling_is_said(tmp_path, capsys, example_mix, example_reference):
    """The ceiling follows a reference's true peak down to the lowest the limiter takes (-6 dBTP);
    a quieter reference's peak is said in the summary, not silently not followed."""
    ref, sr = _read(example_reference)
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, (ref / np.abs(ref).max() * 10 ** (-14 / 20)).T, sr, subtype="FLOAT")
    out = tmp_path / "out.wav"
    code, text, err = _run(capsys, "match", example_mix, "-r", quiet, "-o", out, "--no-refine")
    assert code == 0, err
    assert (
        "the reference peaks at -1" in text
        and "under the lowest ceiling the limiter takes: the ceiling is -6.0" in text
    )
    chain = {p["processor"]: p for p in json.loads((tmp_path / "out.json").read_text())["chain"]}
    assert chain["limiter"]["ceiling_dbtp"] == -6.0
    code, text, _ = _run(capsys, "match", example_mix, "-r", quiet, "-o", tmp_path / "c.wav", "--ceiling", "-3")
    assert code == 0 and "lowest ceiling" not in text  # the user's own ceiling is not second-guessed


def test_each_warning_of_a_batch_names_its_mix(tmp_path, capsys, example_mix, example_reference):
    """Warnings go to stderr and masters' reports to stdout: in a batch each warning says whose it is."""
    import shutil

    mixes = tmp_path / "mixes"
    mixes.mkdir()
    for name in ("a", "b"):
        shutil.copy(example_mix, mixes / f"{name}.flac")
    out = tmp_path / "out"
    code, _, err = _run(
        capsys, "match", mixes, "-r", example_reference, "-o", out, "--target-lufs", "-6", "--no-refine"
    )
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("tonematch: warning:")]
    assert len(warnings) >= 2  # the limiter's heavy work, on each mix
    assert all(str(mixes / "a.flac") in line or str(mixes / "b.flac") in line for line in warnings), warnings
    assert any(str(mixes / "b.flac") in line for line in warnings)


def test_float_samples_for_a_flac_master_are_refused_before_any_mix_is_read(tmp_path, capsys, example_mix):
    """FLAC holds no float: known from the options and the names, so the run is refused up front
    (exit 2, nothing written), not each .flac mix after its analysis (exit 1)."""
    import shutil

    mixes = tmp_path / "mixes"
    mixes.mkdir()
    shutil.copy(example_mix, mixes / "a.flac")
    (mixes / "b.wav").write_bytes(b"not audio: never read")
    out = tmp_path / "out"
    code, text, err = _run(capsys, "match", mixes, "-r", example_mix, "-o", out, "--bit-depth", "float")
    assert code == 2 and text == ""
    assert err == f"tonematch: error: cannot write '{out / 'a.flac'}': FLAC cannot store float samples, use 16 or 24\n"
    assert not out.exists()
