"""`tonematch render`: settings round trip, formats, streaming agreement, and every bad input
failing with one line, a non-zero exit, the input untouched and nothing left in the output folder."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tonematch.inference.analyze import analyze
from tonematch.inference.cli import main

from signals import music_like

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Written by hand, with awkward floats, so a lossy float round trip would show.
PARAMS = {
    "sample_rate": 44100,
    "chain": [
        {"processor": "gain", "gain_db": -1.2345678901234567},
        {
            "processor": "eq",
            "highpass": {"freq_hz": 31.415926535897932, "q": 0.7071067811865476},
            "low_shelf": {"gain_db": 1.1, "freq_hz": 95.0},
            "peak3": {"enabled": False},
            "high_shelf": {"gain_db": 2.0000000000000004, "freq_hz": 7000.0},
        },
        {"processor": "compressor", "threshold_db": -20.0, "ratio": 2.0, "attack_ms": 12.5, "release_ms": 180.0},
        {"processor": "width", "width": 1.1},
        {"processor": "limiter", "ceiling_dbtp": -1.0},
        {"processor": "loudness", "target_lufs": -14.0},
    ],
}


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_params(path, params=PARAMS):
    with open(path, "w") as f:
        json.dump(params, f)
    return str(path)


@pytest.fixture
def stereo_wav(tmp_path):
    path = str(tmp_path / "in.wav")
    sf.write(path, music_like(3.0, 44100).T, 44100, subtype="PCM_24")
    return path


def test_params_json_round_trips_exactly(tmp_path, capsys, stereo_wav):
    from tonematch.models.chain.settings import Settings

    params = write_params(tmp_path / "p.json")
    before = digest(params)
    code, out, err = run(["render", stereo_wav, "--params", params, "-o", str(tmp_path / "out.wav")], capsys)
    assert code == 0 and err == "" and "rendered" in out
    assert digest(params) == before  # render only reads the settings
    s = Settings.from_json(params)
    s.to_json(str(tmp_path / "again.json"))
    again = Settings.from_json(str(tmp_path / "again.json"))
    assert again.values == s.values and again.bypass == s.bypass  # exact float equality
    assert s.values["eq.highpass.freq_hz"] == 31.415926535897932
    assert s.values["gain.gain_db"] == -1.2345678901234567
    assert "eq.peak3" in s.bypass


@pytest.mark.parametrize("sr,channels", [(48000, 1), (44100, 2), (22050, 2)])
def test_output_keeps_rate_channels_length_and_meets_targets(tmp_path, capsys, sr, channels):
    src = str(tmp_path / "in.wav")
    x = music_like(3.0, sr)[:channels]
    sf.write(src, x.T, sr, subtype="PCM_16")
    out = str(tmp_path / "out.flac")
    code, _, err = run(["render", src, "--params", write_params(tmp_path / "p.json"), "-o", out], capsys)
    assert code == 0 and err == ""
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.frames) == (sr, channels, x.shape[1])
    assert info.format == "FLAC" and info.subtype == "PCM_16"  # same as the 16-bit input
    y, _ = sf.read(out, dtype="float32", always_2d=True)
    r = analyze(y.T, sr)
    assert r["integrated_lufs"] == pytest.approx(-14.0, abs=0.2)
    assert r["true_peak_dbtp"] <= -1.0 + 0.1


@pytest.mark.parametrize(
    "in_subtype,flag,expected",
    [
        ("PCM_24", ["--bit-depth", "16"], "PCM_16"),
        ("PCM_24", [], "PCM_24"),
        ("FLOAT", [], "PCM_24"),
        ("PCM_16", ["--bit-depth", "float"], "FLOAT"),
    ],
)
def test_bit_depth(tmp_path, capsys, in_subtype, flag, expected):
    src = str(tmp_path / "in.wav")
    sf.write(src, music_like(1.0, 44100).T, 44100, subtype=in_subtype)
    out = str(tmp_path / "out.wav")
    code, _, err = run(["render", src, "--params", write_params(tmp_path / "p.json"), "-o", out, *flag], capsys)
    assert code == 0 and err == ""
    assert sf.info(out).subtype == expected


def test_streamed_file_render_equals_in_memory_render(tmp_path, capsys):
    """Several read blocks (65536 frames) through the file path give the array renderer's result."""
    from tonematch.models.chain.exact import render_array
    from tonematch.models.chain.settings import Settings

    src = str(tmp_path / "in.wav")
    sf.write(src, music_like(4.0, 44100, seed=3).T, 44100, subtype="FLOAT")
    params = write_params(tmp_path / "p.json")
    out = str(tmp_path / "out.wav")
    code, _, err = run(["render", src, "--params", params, "-o", out, "--bit-depth", "float"], capsys)
    assert code == 0 and err == ""
    x, _ = sf.read(src, dtype="float32", always_2d=True)
    expected = render_array(x.T, Settings.from_json(params), 44100, block=4096)
    y, _ = sf.read(out, dtype="float32", always_2d=True)
    assert np.abs(y.T - expected).max() < 1e-5


def test_a_correction_pass_starts_the_file_and_its_meters_again(tmp_path, first_guess_off):
    """The file takes the limiter pass as it is made; when the loudness needs another pass the
    file and the output meters start again, and the master is the in-memory render's."""
    from tonematch.data import audio
    from tonematch.inference.analyze import analyze_file
    from tonematch.inference.render import render_file
    from tonematch.models.chain.settings import Settings
    from tonematch.models.measure.loudness import LoudnessMeter

    first_guess_off(2.0)
    src = str(tmp_path / "in.wav")
    x = music_like(4.0, 44100, seed=3, level_db=-24)
    sf.write(src, x.T, 44100, subtype="FLOAT")
    s = Settings.defaults(44100)
    s.values.update({"loudness.target_lufs": -10.0})
    meters, restarts = [], []

    def on_restart():
        restarts.append(1)
        meters.append(LoudnessMeter(44100, 2))

    on_restart()
    out = str(tmp_path / "out.wav")
    summary = render_file(src, s, out, bit_depth="16", on_block=lambda b: meters[-1].add(b), on_restart=on_restart)
    assert summary["report"]["passes"] > 1 and len(restarts) == summary["report"]["passes"]
    audio.write(str(tmp_path / "expected.wav"), render_array_of(src, s), 44100, subtype="16")
    np.testing.assert_array_equal(
        sf.read(out, dtype="int16")[0], sf.read(str(tmp_path / "expected.wav"), dtype="int16")[0]
    )
    assert meters[-1].integrated() == pytest.approx(analyze_file(out)["integrated_lufs"], abs=0.01)


def render_array_of(path, settings):
    from tonematch.models.chain.exact import render_array

    x, sr = sf.read(path, dtype="float32", always_2d=True)
    return render_array(x.T, settings, sr)


def test_dither_flag(tmp_path, capsys, stereo_wav):
    params = write_params(tmp_path / "p.json")
    outs = []
    for i, flag in enumerate([[], ["--no-dither"]]):
        out = str(tmp_path / f"o{i}.wav")
        assert run(["render", stereo_wav, "--params", params, "-o", out, "--bit-depth", "16", *flag], capsys)[0] == 0
        outs.append(sf.read(out, dtype="int16")[0].astype(np.int64))
    float_out = str(tmp_path / "f.wav")
    assert run(["render", stereo_wav, "--params", params, "-o", float_out, "--bit-depth", "float"], capsys)[0] == 0
    exact = sf.read(float_out, dtype="float64")[0] * 32768.0
    assert np.array_equal(outs[1], np.clip(np.rint(exact), -32768, 32767))  # plain rounding
    assert 0.3 < np.mean(np.abs(outs[0] - exact)) < 1.0  # TPDF noise: mean |error| ~ 0.58 LSB


def _bad_cases(tmp, stereo_wav):
    """name -> (argv, input file that must stay untouched, output folder that must stay clean)."""
    good = write_params(tmp / "p.json")
    not_audio = tmp / "text.wav"
    not_audio.write_text("this is not a wave file\n")
    empty = tmp / "empty.wav"
    empty.write_bytes(b"")
    nan = np.zeros((44100 * 2, 2), np.float32)
    nan[70000, 1] = np.nan  # in the second read block
    sf.write(str(tmp / "nan.wav"), nan, 44100, subtype="FLOAT")
    unknown_key = json.loads(json.dumps(PARAMS))
    unknown_key["chain"][2]["treshold_db"] = -20.0
    out_of_range = json.loads(json.dumps(PARAMS))
    out_of_range["chain"][2]["ratio"] = 50.0
    out = str(tmp / "out" / "o.wav")
    return {
        "not_audio": ([str(not_audio), "--params", good, "-o", out], str(not_audio)),
        "empty_file": ([str(empty), "--params", good, "-o", out], str(empty)),
        "nan_samples": ([str(tmp / "nan.wav"), "--params", good, "-o", out], str(tmp / "nan.wav")),
        "missing_input": ([str(tmp / "nope.wav"), "--params", good, "-o", out], None),
        "missing_folder": ([stereo_wav, "--params", good, "-o", str(tmp / "out" / "nodir" / "o.wav")], stereo_wav),
        "output_is_input": ([stereo_wav, "--params", good, "-o", stereo_wav], stereo_wav),
        "output_is_input_respelled": (
            [stereo_wav, "--params", good, "-o", os.path.join(os.path.dirname(stereo_wav), ".", "in.wav")],
            stereo_wav,
        ),
        "unknown_extension": ([stereo_wav, "--params", good, "-o", str(tmp / "out" / "o.mp3")], stereo_wav),
        "flac_float": (
            [stereo_wav, "--params", good, "-o", str(tmp / "out" / "o.flac"), "--bit-depth", "float"],
            stereo_wav,
        ),
        "unknown_settings_key": (
            [stereo_wav, "--params", write_params(tmp / "k.json", unknown_key), "-o", out],
            stereo_wav,
        ),
        "out_of_range_value": (
            [stereo_wav, "--params", write_params(tmp / "r.json", out_of_range), "-o", out],
            stereo_wav,
        ),
        "missing_params": ([stereo_wav, "--params", str(tmp / "none.json"), "-o", out], stereo_wav),
        "params_not_json": ([stereo_wav, "--params", str(not_audio), "-o", out], stereo_wav),
        "params_is_folder": ([stereo_wav, "--params", str(tmp), "-o", out], stereo_wav),
    }


@pytest.mark.parametrize(
    "case",
    [
        "not_audio",
        "empty_file",
        "nan_samples",
        "missing_input",
        "missing_folder",
        "output_is_input",
        "output_is_input_respelled",
        "unknown_extension",
        "flac_float",
        "unknown_settings_key",
        "out_of_range_value",
        "missing_params",
        "params_not_json",
        "params_is_folder",
    ],
)
def test_bad_input_fails_cleanly(tmp_path, capsys, stereo_wav, case):
    (tmp_path / "out").mkdir()
    argv, keep = _bad_cases(tmp_path, stereo_wav)[case]
    before = digest(keep) if keep else None
    folder = os.path.dirname(argv[argv.index("-o") + 1])
    listing = sorted(os.listdir(folder)) if os.path.isdir(folder) else None
    code, out, err = run(["render", *argv], capsys)
    assert code not in (0, None)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tonematch: error:"), err
    assert "Traceback" not in err and out == ""
    if keep:
        assert digest(keep) == before
    if listing is not None:
        assert sorted(os.listdir(folder)) == listing  # no output, no temp file


def test_verbose_adds_the_traceback(tmp_path, capsys, stereo_wav):
    code, _, err = run(
        ["render", "-v", stereo_wav, "--params", str(tmp_path / "none.json"), "-o", str(tmp_path / "o.wav")], capsys
    )
    assert code != 0 and "Traceback" in err and err.splitlines()[-1].startswith("tonematch: error:")


def test_list_params_shows_every_parameter(capsys):
    from tonematch.models.chain import TABLE

    code, out, _ = run(["render", "--list-params"], capsys)
    assert code == 0
    for key in TABLE.keys:
        assert key in out


def test_render_needs_input_params_and_output(capsys):
    code, _, err = run(["render", "--params", "p.json"], capsys)
    assert code == 2 and "missing IN" in err and "-o/--output" in err


def test_example_settings_are_the_documented_gentle_master():
    from tonematch.models.chain.settings import Settings

    s = Settings.from_json(os.path.join(REPO, "examples", "settings.json"))
    s.validate(44100)
    v = s.values
    assert s.enabled("eq", "highpass") and 20.0 <= v["eq.highpass.freq_hz"] <= 40.0
    assert 0.0 < v["eq.low_shelf.gain_db"] <= 3.0
    assert (v["compressor.ratio"], v["compressor.threshold_db"]) == (2.0, -20.0)
    assert (v["width.width"], v["limiter.ceiling_dbtp"], v["loudness.target_lufs"]) == (1.1, -1.0, -14.0)


def test_console_script_reports_errors_in_one_line(tmp_path):
    """The installed `tonematch` entry point, as a user runs it, and it starts without torch."""
    script = os.path.join(os.path.dirname(sys.executable), "tonematch")
    cmd = [script] if os.path.exists(script) else [sys.executable, "-m", "tonematch.inference.cli"]
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    p = subprocess.run([*cmd, "analyze", str(bad)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.splitlines() == [p.stderr.strip()] and p.stderr.startswith("tonematch: error: cannot read")
    probe = (
        "import sys, tonematch.inference.cli; "
        "print(sorted({'torch', 'lightning', 'hydra', 'matplotlib'} & set(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout.strip()
    assert loaded == "[]"


def test_readme_settings_example_loads():
    """The JSON shown in the README is a valid settings file."""
    from tonematch.models.chain.settings import Settings

    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    block = text.split("```json\n", 1)[1].split("```", 1)[0]
    s = Settings.from_dict(json.loads(block))
    assert "eq.peak1" in s.bypass and s.values["compressor.ratio"] == 2.0


# --- any sample rate, hot inputs, reproducible output, SIGTERM ---------------------------------

EXAMPLE_SETTINGS = os.path.join(REPO, "examples", "settings.json")


def write_wav(path, x, sr, subtype="PCM_16"):
    sf.write(str(path), np.ascontiguousarray(x.T), sr, subtype=subtype)
    return str(path)


@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100, 48000, 96000, 192000])
def test_any_rate_renders_with_the_example_and_the_default_settings(tmp_path, capsys, sr):
    from tonematch.data.synth import music_like as any_rate_music  # signals.music_like needs sr > 12 kHz

    src = write_wav(tmp_path / "in.wav", any_rate_music(seconds=1.0, sample_rate=sr), sr)
    defaults = write_params(tmp_path / "d.json", {"chain": []})
    for params in (EXAMPLE_SETTINGS, defaults):
        before = digest(params)
        out = str(tmp_path / "out.wav")
        code, _, err = run(["render", src, "--params", params, "-o", out, "--overwrite"], capsys)
        assert code == 0, err
        assert digest(params) == before  # the file keeps the user's values
        y, _ = sf.read(out, dtype="float32", always_2d=True)
        assert analyze(y.T, sr)["true_peak_dbtp"] <= -1.0 + 0.1
        expected = []
        if params == EXAMPLE_SETTINGS and sr == 8000:  # its 6 kHz high shelf (+2 dB) is above 0.45 x 8 kHz
            expected = ["tonematch: warning: eq.high_shelf.freq_hz 6000 Hz is above what 8000 Hz allows; using 3600 Hz"]
        assert err.splitlines() == expected


def test_an_enabled_band_above_the_rate_is_named_once(tmp_path, capsys):
    from tonematch.data.synth import music_like as any_rate_music

    src = write_wav(tmp_path / "in.wav", any_rate_music(seconds=1.0, sample_rate=16000), 16000)
    params = write_params(
        tmp_path / "p.json",
        {"sample_rate": 44100, "chain": [{"processor": "eq", "high_shelf": {"gain_db": 2.0, "freq_hz": 8000.0}}]},
    )
    code, _, err = run(["render", src, "--params", params, "-o", str(tmp_path / "o.wav")], capsys)
    assert code == 0
    assert err.splitlines() == [
        "tonematch: warning: eq.high_shelf.freq_hz 8000 Hz is above what 16000 Hz allows; using 7200 Hz"
    ]


@pytest.mark.parametrize("scale", [32768.0, 1e15, 1e30])
def test_hot_float_input_meets_the_ceiling_and_the_target(tmp_path, capsys, scale):
    """Float files holding int16-scale values (+90 dBFS) or worse: turned down before the chain."""
    x = music_like(3.0, 44100)
    src = write_wav(tmp_path / "hot.wav", (x.astype(np.float64) * scale).astype(np.float32), 44100, "FLOAT")
    out = str(tmp_path / "out.wav")
    code, _, err = run(["render", src, "--params", EXAMPLE_SETTINGS, "-o", out, "--bit-depth", "float"], capsys)
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tonematch: warning: ") and "mis-scaled" in lines[0], err
    y, _ = sf.read(out, dtype="float32", always_2d=True)
    r = analyze(y.T, 44100)
    assert r["true_peak_dbtp"] <= -1.0
    assert r["integrated_lufs"] == pytest.approx(-14.0, abs=0.1)
    if scale == 32768.0:  # a power of two: exactly the render of the unscaled file
        plain = str(tmp_path / "plain.wav")
        write_wav(plain, x, 44100, "FLOAT")
        assert (
            run(
                ["render", plain, "--params", EXAMPLE_SETTINGS, "-o", str(tmp_path / "p.wav"), "--bit-depth", "float"],
                capsys,
            )[0]
            == 0
        )
        assert np.array_equal(sf.read(str(tmp_path / "p.wav"), dtype="float32")[0], y)


def test_float_overshoot_of_a_few_db_is_left_as_it_is(tmp_path, capsys):
    x = music_like(2.0, 44100)
    src = write_wav(tmp_path / "in.wav", x / np.abs(x).max() * 4.0, 44100, "FLOAT")  # +12 dBFS
    code, out, err = run(["render", src, "--params", EXAMPLE_SETTINGS, "-o", str(tmp_path / "o.wav")], capsys)
    assert code == 0 and err == ""


def test_a_target_that_cannot_be_met_is_a_warning(tmp_path, capsys):
    x = music_like(3.0, 44100, level_db=-80.0)  # needs more than the 40 dB normalisation may add
    src = write_wav(tmp_path / "quiet.wav", x, 44100, "FLOAT")
    out = str(tmp_path / "o.wav")
    code, _, err = run(["render", src, "--params", EXAMPLE_SETTINGS, "-o", out], capsys)
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tonematch: warning: loudness target -14.0 LUFS not met"), err
    y, _ = sf.read(out, dtype="float32", always_2d=True)
    assert analyze(y.T, 44100)["integrated_lufs"] < -20.0  # not silence, just quieter than asked


@pytest.mark.parametrize("sr", [4000, 400000])
def test_a_rate_outside_what_tonematch_works_at_is_refused_in_one_line(tmp_path, capsys, sr):
    """As match refuses it: not a band moved past its range (4 kHz), nor a render (400 kHz)."""
    from tonematch.data.synth import music_like as any_rate_music

    src = write_wav(tmp_path / "odd.wav", any_rate_music(1.0, sr), sr)
    out = tmp_path / "o" / "o.wav"
    out.parent.mkdir()
    code, stdout, err = run(["render", src, "--params", EXAMPLE_SETTINGS, "-o", str(out)], capsys)
    assert code == 2 and stdout == "" and os.listdir(out.parent) == []
    assert err.splitlines() == [
        f"tonematch: error: cannot render '{src}': its sample rate {sr} Hz is outside what tonematch works at "
        "(8000 to 384000 Hz)"
    ]


def test_a_quiet_input_says_what_the_output_measures_not_silence(tmp_path, capsys):
    """Under BS.1770's -70 LUFS gate but not silent: the warning names the output's loudness."""
    x = music_like(3.0, 44100, level_db=-80.0)
    src = write_wav(tmp_path / "quiet.wav", x * 10 ** (-15 / 20), 44100, "FLOAT")  # about -85 LUFS
    out = str(tmp_path / "o.wav")
    code, _, err = run(["render", src, "--params", EXAMPLE_SETTINGS, "-o", out], capsys)
    assert code == 0 and "silent" not in err, err
    y, _ = sf.read(out, dtype="float32", always_2d=True)
    measured = analyze(y.T, 44100)["integrated_lufs"]
    assert measured is not None and f"the output measures {measured:.1f} LUFS" in err, (measured, err)


def test_an_input_shorter_than_a_loudness_block_is_refused_not_pushed_40_db(tmp_path, capsys):
    """0.05 s of music has no loudness to normalise: refused in one line (nothing written), rather
    than read as silence and given +40 dB into the limiter; with the loudness stage off it renders."""
    x = music_like(2.0, 44100)[:, :2205]
    src = write_wav(tmp_path / "short.wav", x, 44100)
    out = tmp_path / "o" / "o.wav"
    out.parent.mkdir()
    code, stdout, err = run(["render", src, "--params", EXAMPLE_SETTINGS, "-o", str(out)], capsys)
    assert code == 2 and stdout == "" and os.listdir(out.parent) == []
    assert err.splitlines() == [
        f"tonematch: error: cannot render '{src}': it lasts 0.05 s; at least 0.4 s is needed to measure its "
        'loudness (switch the loudness stage off to render it: "enabled": false)'
    ]
    params = json.loads(open(EXAMPLE_SETTINGS).read())
    next(p for p in params["chain"] if p["processor"] == "loudness")["enabled"] = False
    code, _, err = run(["render", src, "--params", write_params(tmp_path / "p.json", params), "-o", str(out)], capsys)
    assert code == 0 and err == ""
    y, _ = sf.read(str(out), dtype="float32", always_2d=True)
    assert np.abs(y).max() < 2 * np.abs(x).max()  # no +40 dB: the example's EQ and compressor only


@pytest.mark.parametrize("flags", [["--bit-depth", "float"], ["--bit-depth", "16"]])
def test_the_same_render_gives_the_same_bytes(tmp_path, capsys, stereo_wav, flags):
    """No timestamp (libsndfile's PEAK chunk) and seeded dither: two renders are byte-identical."""
    import time

    outs = [str(tmp_path / f"o{i}.wav") for i in range(2)]
    for i, out in enumerate(outs):
        if i:
            time.sleep(1.1)  # the PEAK chunk's time stamp counts seconds
        assert run(["render", stereo_wav, "--params", EXAMPLE_SETTINGS, "-o", out, *flags], capsys)[0] == 0
    assert digest(outs[0]) == digest(outs[1])
    assert "PEAK" not in sf.info(outs[0]).extra_info


def _start_long_render(tmp_path):
    """A render subprocess over a file long enough to still be running when we signal it."""
    sr = 44100
    x = np.random.default_rng(0).integers(-3000, 3000, size=(240 * sr, 2), dtype=np.int16)
    src = str(tmp_path / "long.wav")
    sf.write(src, x, sr, subtype="PCM_16")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "tonematch.inference.cli",
        "render",
        src,
        "--params",
        EXAMPLE_SETTINGS,
        "-o",
        str(out_dir / "long.wav"),
    ]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import time

    deadline = time.monotonic() + 120
    while not any(".tmp-" in n for n in os.listdir(out_dir)):
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return p, out_dir


def test_sigterm_mid_render_cleans_up_and_says_so(tmp_path):
    import signal

    p, out_dir = _start_long_render(tmp_path)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 143, err
    assert err.splitlines() == ["tonematch: terminated"] and out == ""
    assert os.listdir(out_dir) == []


def test_a_killed_renders_temp_file_is_swept_by_the_next_write(tmp_path, capsys, stereo_wav):
    import signal

    p, out_dir = _start_long_render(tmp_path)
    p.send_signal(signal.SIGKILL)  # no chance to clean up
    p.communicate(timeout=60)
    left = [n for n in os.listdir(out_dir) if ".tmp-" in n]
    assert len(left) == 1 and f"-{p.pid}-" in left[0]
    out = str(out_dir / "other.wav")
    assert run(["render", stereo_wav, "--params", EXAMPLE_SETTINGS, "-o", out], capsys)[0] == 0
    assert sorted(os.listdir(out_dir)) == ["other.json", "other.wav"]  # the master and its settings


def test_version_prints_the_installed_version(capsys):
    import tonematch

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"tonematch {tonematch.__version__}"


def test_a_silent_input_renders_silence_and_says_why_the_target_is_missed(tmp_path, capsys):
    """render is a processor: a silent file renders (to silence, exit 0), with one warning that
    names the silence rather than a loudness it never had."""
    src = write_wav(tmp_path / "silent.wav", np.zeros((2, 44100), np.float32), 44100, "PCM_16")
    out = str(tmp_path / "o.wav")
    code, _, err = run(["render", src, "--params", EXAMPLE_SETTINGS, "-o", out], capsys)
    assert code == 0
    assert err.splitlines() == [
        "tonematch: warning: loudness target -14.0 LUFS not met: the input is silent, and so is the output"
    ]
    assert np.abs(sf.read(out, dtype="float32")[0]).max() <= 2.0**-15  # the dither's last bit at most


def test_a_render_over_full_scale_says_it_clips(tmp_path, capsys):
    """With the limiter switched off, loudness pushed past full scale clips a 16-bit file: the
    run says so in one line (and names the limiter); with the limiter on it holds the ceiling."""
    settings = json.loads(open(EXAMPLE_SETTINGS).read())
    for p in settings["chain"]:
        if p["processor"] == "limiter":
            p["enabled"] = False
        if p["processor"] == "loudness":
            p["target_lufs"] = -8.0
    params = tmp_path / "nolimit.json"
    params.write_text(json.dumps(settings))
    src = write_wav(tmp_path / "in.wav", music_like(3.0, 44100, level_db=-20.0), 44100)
    code, _, err = run(["render", src, "--params", str(params), "-o", str(tmp_path / "o.wav")], capsys)
    assert code == 0
    (line,) = err.splitlines()
    assert "over full scale: the file clips there (the limiter is off" in line, line
    code, _, err = run(["render", src, "--params", EXAMPLE_SETTINGS, "-o", str(tmp_path / "held.wav")], capsys)
    assert code == 0 and "full scale" not in err


def test_heavy_limiting_is_said_and_its_depth_reported(tmp_path, capsys):
    """A loudness target that asks the limiter for more than HEAVY_LIMITING_DB off the loudest
    peak renders (the target is the user's) with one warning naming how much; the summary
    reports the depth on every render, and a moderate target says nothing."""
    from tonematch.inference.render import HEAVY_LIMITING_DB

    src = write_wav(tmp_path / "in.wav", music_like(4.0, 44100, level_db=-24.0), 44100)
    depth = {}
    for lufs in (-16.0, -6.0):
        settings = json.loads(open(EXAMPLE_SETTINGS).read())
        next(p for p in settings["chain"] if p["processor"] == "loudness")["target_lufs"] = lufs
        params = tmp_path / f"t{-lufs:g}.json"
        params.write_text(json.dumps(settings))
        code, out, err = run(["render", src, "--params", str(params), "-o", str(tmp_path / f"o{-lufs:g}.wav")], capsys)
        assert code == 0
        depth[lufs] = float(out.split("up to ")[1].split(" dB off")[0])
        heavy = [line for line in err.splitlines() if "the limiter takes up to" in line]
        assert len(heavy) == (1 if depth[lufs] > HEAVY_LIMITING_DB else 0), err
    assert depth[-6.0] > HEAVY_LIMITING_DB > depth[-16.0]


def test_a_silent_mix_renders_to_digital_silence_and_says_so(tmp_path, capsys):
    src = write_wav(tmp_path / "silence.wav", np.zeros((2, 3 * 44100), np.float32), 44100, "PCM_16")
    out = str(tmp_path / "o.wav")
    code, text, err = run(["render", src, "--params", EXAMPLE_SETTINGS, "-o", out], capsys)
    assert code == 0 and "the input is silent, and so is the output" in err
    assert not sf.read(out, dtype="int16")[0].any()  # dithered, yet digital silence (auto-blank)
    assert "none to measure" in text and "gain into limiter" not in text and "final miss" not in text


def test_list_params_takes_only_a_rate_tonematch_works_at(capsys):
    assert run(["render", "--list-params", "--sample-rate", "48000"], capsys)[0] == 0
    for bad in ("-5", "100"):
        code, _, err = run(["render", "--list-params", "--sample-rate", bad], capsys)
        assert code == 2 and err.startswith("tonematch: error:") and len(err.splitlines()) == 1


def test_a_rate_for_a_file_render_is_refused(tmp_path, capsys, stereo_wav):
    params = write_params(tmp_path / "p.json")
    out = tmp_path / "o.wav"
    code, _, err = run(["render", stereo_wav, "--params", params, "-o", str(out), "--sample-rate", "48000"], capsys)
    assert code == 2 and "renders at its own rate" in err and not out.exists()


def test_a_sigterm_whose_raise_python_dropped_still_stops_the_render(tmp_path, capsys, stereo_wav, monkeypatch):
    # Python drops an exception raised in an import's cleanup callback ("Exception ignored in
    # _get_module_lock"): the handler's mark alone must stop the render and leave no output
    from tonematch.data import audio
    from tonematch.inference import console

    write = audio.AudioWriter.write

    def dropped(self, block):
        console.signalled(console.Terminated)  # what the handler does before its raise
        write(self, block)

    monkeypatch.setattr(audio.AudioWriter, "write", dropped)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run(["render", stereo_wav, "--params", EXAMPLE_SETTINGS, "-o", str(out_dir / "o.wav")], capsys)
    assert code == 143 and err.splitlines() == ["tonematch: terminated"]
    assert os.listdir(out_dir) == []


def test_a_target_over_what_the_limiter_gives_names_the_limiter(tmp_path, capsys):
    # the gain ran on to normalisation's 40 dB bound for no more loudness, and the warning blamed the bound
    x = music_like(3.0, 44100, level_db=-20.0)
    src = write_wav(tmp_path / "mix.wav", x, 44100, "FLOAT")
    params = json.loads(open(EXAMPLE_SETTINGS).read())
    for p in params["chain"]:
        if p["processor"] == "loudness":
            p["target_lufs"] = -6.0  # the loudest the table takes
    path = write_params(tmp_path / "hot.json", params)
    code, _, err = run(["render", src, "--params", path, "-o", str(tmp_path / "o.wav")], capsys)
    assert code == 0
    said = [line for line in err.splitlines() if "not met" in line]
    assert len(said) == 1 and "the limiter cannot make it louder under its ceiling" in said[0], err
