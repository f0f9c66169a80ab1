"""Writing audio: formats, quantisation and TPDF dither, atomicity, path checks."""

import os

import numpy as np
import pytest
import soundfile as sf

from tonematch.data import audio
from tonematch.data.errors import TonematchError
from tonematch.data.synth import music_like


def temp_leftovers(folder):
    return [n for n in os.listdir(folder) if ".tmp-" in n]


@pytest.mark.parametrize(
    "ext,subtype,lsb",
    [
        (".wav", "16", 2.0**-15),
        (".flac", "16", 2.0**-15),
        (".wav", "24", 2.0**-23),
        (".flac", "PCM_24", 2.0**-23),
        (".wav", "float", 0.0),
    ],
)
def test_round_trip_within_quantisation_error(tmp_path, ext, subtype, lsb):
    x = music_like(seconds=1.0, sample_rate=22050)
    p = str(tmp_path / f"out{ext}")
    audio.write(p, x, 22050, subtype=subtype)
    y, sr = audio.load(p)
    assert sr == 22050 and y.shape == x.shape
    err = np.abs(y.astype(np.float64) - x)
    if lsb == 0.0:
        assert err.max() == 0.0  # float is stored exactly
    else:
        assert err.max() <= 1.5 * lsb + 1e-12  # rounding (1/2 LSB) + TPDF dither (< 1 LSB)
        assert err.mean() > 0.1 * lsb  # and dither really was added
    audio.write(p, x, 22050, subtype=subtype, dither=False)
    y, _ = audio.load(p)
    assert np.abs(y.astype(np.float64) - x).max() <= 0.5 * lsb + 1e-12


def test_default_format_is_24_bit(tmp_path):
    for name in ("d.wav", "d.flac"):
        audio.write(str(tmp_path / name), music_like(seconds=0.2, sample_rate=8000), 8000)
        assert audio.info(str(tmp_path / name)).subtype == "PCM_24"


def test_clipping_only_at_integer_quantisation(tmp_path):
    x = np.array([[1.5, -1.5, 0.25]], np.float32)
    audio.write(str(tmp_path / "i.wav"), x, 8000, subtype="16", dither=False)
    y, _ = audio.load(str(tmp_path / "i.wav"))
    np.testing.assert_array_equal(y[0], [32767 / 32768, -1.0, 0.25])
    audio.write(str(tmp_path / "f.wav"), x, 8000, subtype="float")
    np.testing.assert_array_equal(audio.load(str(tmp_path / "f.wav"))[0], x)


def test_tpdf_dither_makes_the_error_noise(tmp_path):
    sr, lsb = 44100, 2.0**-15
    t = np.arange(sr) / sr
    x = (0.45 * lsb * np.sin(2 * np.pi * 1000 * t))[None].astype(np.float32)  # rounds to silence

    def error(dither):
        p = str(tmp_path / "quiet.wav")
        audio.write(p, x, sr, subtype="16", dither=dither)
        return (audio.load(p)[0][0].astype(np.float64) - x[0]) / lsb

    def harmonic_peak_ratio(e):  # strongest 1 kHz harmonic over the median spectrum level
        spec = np.abs(np.fft.rfft(e)) ** 2  # 1 Hz bins
        return spec[[1000, 3000, 5000, 7000]].max() / np.median(spec)

    plain = error(False)
    np.testing.assert_allclose(plain, -x[0] / lsb)  # without dither the sine is lost: error = -signal
    assert harmonic_peak_ratio(plain) > 1e4
    dithered = error(True)
    # With dither the sine survives on average in the output (= signal + error).
    assert np.corrcoef(dithered + x[0] / lsb, x[0])[0, 1] > 0.3
    assert abs(dithered.mean()) < 0.02
    assert harmonic_peak_ratio(dithered) < 30  # spectrally flat: no harmonic distortion
    assert abs(np.corrcoef(dithered, x[0])[0, 1]) < 0.05
    # TPDF of +-1 LSB (variance 1/6) plus rounding (1/12): standard deviation 1/2 LSB.
    assert dithered.std() == pytest.approx(0.5, abs=0.03)


def test_block_size_does_not_change_the_output(tmp_path):
    x = music_like(seconds=1.0, sample_rate=16000)
    audio.write(str(tmp_path / "one.wav"), x, 16000, subtype="16", seed=3)
    with audio.AudioWriter(str(tmp_path / "blocks.wav"), 16000, 2, subtype="16", seed=3) as w:
        for i in range(0, x.shape[1], 999):
            w.write(x[:, i : i + 999])
    a, _ = sf.read(str(tmp_path / "one.wav"), dtype="int16")
    b, _ = sf.read(str(tmp_path / "blocks.wav"), dtype="int16")
    np.testing.assert_array_equal(a, b)
    audio.write(str(tmp_path / "other.wav"), x, 16000, subtype="16", seed=4)
    assert not np.array_equal(a, sf.read(str(tmp_path / "other.wav"), dtype="int16")[0])


@pytest.mark.parametrize("ext", [".wav", ".flac"])
def test_restart_drops_what_was_written(tmp_path, ext):
    """A render whose loudness needs a correction pass starts its file again: the result is the
    file that only the second write would have made, dither included."""
    x = music_like(seconds=1.0, sample_rate=16000)
    audio.write(str(tmp_path / ("once" + ext)), x, 16000, subtype="16", seed=3)
    with audio.AudioWriter(str(tmp_path / ("again" + ext)), 16000, 2, subtype="16", seed=3) as w:
        w.write(0.5 * x[:, :7000])
        w.restart()
        w.write(x[:, :5000])
        w.write(x[:, 5000:])
    a, _ = sf.read(str(tmp_path / ("once" + ext)), dtype="int16")
    b, _ = sf.read(str(tmp_path / ("again" + ext)), dtype="int16")
    np.testing.assert_array_equal(a, b)
    assert not temp_leftovers(tmp_path)


def test_atomic_write_success_leaves_no_temp_file(tmp_path):
    p = str(tmp_path / "ok.flac")
    with audio.AudioWriter(p, 8000, 2) as w:
        w.write(music_like(seconds=0.2, sample_rate=8000))
        assert not os.path.exists(p)  # nothing at the target until the writer is done
        assert len(temp_leftovers(tmp_path)) == 1
    assert os.path.exists(p) and temp_leftovers(tmp_path) == []


def test_atomic_write_failure_leaves_nothing(tmp_path):
    p = str(tmp_path / "fail.wav")
    with pytest.raises(RuntimeError):
        with audio.AudioWriter(p, 8000, 2) as w:
            w.write(music_like(seconds=0.2, sample_rate=8000))
            raise RuntimeError("crash mid-write")
    assert os.listdir(tmp_path) == []


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    p = str(tmp_path / "keep.wav")
    old = music_like(seconds=0.3, sample_rate=8000, seed=1)
    audio.write(p, old, 8000, subtype="float")
    bad = music_like(seconds=0.3, sample_rate=8000, seed=2)
    bad[0, 100] = np.nan
    with pytest.raises(TonematchError, match="NaN"):
        audio.write(p, bad, 8000, subtype="float")
    np.testing.assert_array_equal(audio.load(p)[0], old)
    assert temp_leftovers(tmp_path) == []


def test_output_folder_missing(tmp_path):
    p = str(tmp_path / "no" / "such" / "out.wav")
    with pytest.raises(TonematchError, match="does not exist") as err:
        audio.write(p, music_like(seconds=0.1, sample_rate=8000), 8000)
    assert "\n" not in str(err.value)
    with pytest.raises(TonematchError, match="does not exist"):
        audio.check_paths(str(tmp_path / "in.wav"), p)


def test_output_under_a_file_names_the_file_not_a_missing_folder(tmp_path):
    """-o master.wav/x.wav: the 'folder' is an existing file; saying it does not exist misleads."""
    (tmp_path / "master.wav").write_bytes(b"")
    p = str(tmp_path / "master.wav" / "x.wav")
    with pytest.raises(TonematchError, match=r"'.*master.wav' is a file, not a folder"):
        audio.check_paths(str(tmp_path / "in.wav"), p)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_output_folder_not_writable(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(TonematchError, match="not writable"):
            audio.write(str(locked / "x.wav"), music_like(seconds=0.1, sample_rate=8000), 8000)
    finally:
        locked.chmod(0o700)


def test_format_errors(tmp_path):
    x = music_like(seconds=0.1, sample_rate=8000)
    with pytest.raises(TonematchError, match="unsupported extension '.mp3'"):
        audio.write(str(tmp_path / "x.mp3"), x, 8000)
    with pytest.raises(TonematchError, match="FLAC cannot store float"):
        audio.write(str(tmp_path / "x.flac"), x, 8000, subtype="float")
    with pytest.raises(TonematchError, match="unknown sample format '12'"):
        audio.write(str(tmp_path / "x.wav"), x, 8000, subtype="12")
    with pytest.raises(TonematchError, match="it is a folder"):
        os.mkdir(tmp_path / "d.wav")
        audio.write(str(tmp_path / "d.wav"), x, 8000)
    assert temp_leftovers(tmp_path) == []


def test_parse_subtype_aliases():
    assert audio.parse_subtype("16") == "PCM_16"
    assert audio.parse_subtype(24) == "PCM_24"
    assert audio.parse_subtype("pcm_24") == "PCM_24"
    assert audio.parse_subtype("Float") == "FLOAT"
    assert audio.parse_subtype(None) is None
    with pytest.raises(TonematchError):
        audio.parse_subtype("8")


def test_check_paths_refuses_the_input_itself(tmp_path):
    src = str(tmp_path / "song.wav")
    audio.write(src, music_like(seconds=0.2, sample_rate=8000), 8000)
    before = open(src, "rb").read()
    for same in (src, str(tmp_path / "." / "song.wav")):
        with pytest.raises(TonematchError, match="is the input file") as err:
            audio.check_paths(src, same)
        assert "\n" not in str(err.value)
    link = tmp_path / "link.wav"
    link.symlink_to(src)
    with pytest.raises(TonematchError, match="is the input file"):
        audio.check_paths(src, str(link))
    os.link(src, tmp_path / "hard.wav")
    with pytest.raises(TonematchError, match="is the input file"):
        audio.check_paths(src, str(tmp_path / "hard.wav"))
    audio.check_paths(src, str(tmp_path / "mastered.wav"))  # a new file is fine
    assert open(src, "rb").read() == before


def test_mono_writes_accept_1d(tmp_path):
    x = music_like(seconds=0.2, sample_rate=8000, channels=1)[0]
    audio.write(str(tmp_path / "m.wav"), x, 8000, subtype="float")
    y, _ = audio.load(str(tmp_path / "m.wav"))
    np.testing.assert_array_equal(y[0], x)
    with audio.AudioWriter(str(tmp_path / "s.wav"), 8000, 2) as w:
        with pytest.raises(ValueError):
            w.write(x)  # 1-D into a stereo writer
        w.write(np.zeros((2, 10), np.float32))


def test_float_wav_is_byte_for_byte_reproducible(tmp_path):
    """libsndfile would add a PEAK chunk stamped with the time of writing; the writer turns it off."""
    import time

    x = music_like(seconds=0.5, sample_rate=8000)
    paths = [str(tmp_path / f"f{i}.wav") for i in range(2)]
    for i, p in enumerate(paths):
        if i:
            time.sleep(1.1)  # the stamp counts seconds
        audio.write(p, x, 8000, subtype="float")
    assert open(paths[0], "rb").read() == open(paths[1], "rb").read()
    assert "PEAK" not in sf.info(paths[0]).extra_info


def test_dithered_output_is_byte_for_byte_reproducible(tmp_path):
    x = music_like(seconds=1.0, sample_rate=16000)
    audio.write(str(tmp_path / "a.wav"), x, 16000, subtype="16")
    with audio.AudioWriter(str(tmp_path / "b.wav"), 16000, 2, subtype="16") as w:
        for i in range(0, x.shape[1], 1234):  # other blocks, same seed: same bytes
            w.write(x[:, i : i + 1234])
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_temp_names_carry_the_writer_pid(tmp_path):
    with audio.AudioWriter(str(tmp_path / "o.wav"), 8000, 1) as w:
        (name,) = temp_leftovers(tmp_path)
        assert f"-{os.getpid()}-" in name and name.startswith(".o.wav.tmp-") and name.endswith(".wav")
        w.write(np.zeros((1, 800), np.float32))


def _dead_pid():
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid  # reaped: no such process any more (reuse this soon is vanishingly unlikely)


def test_stale_temp_files_of_ours_are_swept_on_the_next_write(tmp_path):
    from tonematch.data import atomic

    host, dead = atomic._HOST, _dead_pid()
    names = {
        "dead": f".song.wav.tmp-{host}-{dead}-0123abcd.wav",
        "alive": f".song.wav.tmp-{host}-{os.getpid()}-0123abcd.wav",
        "other_host_fresh": f".song.wav.tmp-elsewhere-{dead}-0123abcd.wav",
        "other_host_old": f".song.flac.tmp-elsewhere-{dead}-4567cdef.flac",
        "not_ours": f".song.wav.tmp-{dead}.wav",  # another tool's naming: never touched
        "user_file": "song.wav.tmp-1-0123abcd.wav",  # not hidden: not ours either
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"RIFF")
    day_ago = os.path.getmtime(tmp_path / names["other_host_old"]) - atomic.STALE_TEMP_S - 60
    os.utime(tmp_path / names["other_host_old"], (day_ago, day_ago))
    audio.write(str(tmp_path / "new.wav"), music_like(seconds=0.1, sample_rate=8000), 8000)
    left = set(os.listdir(tmp_path))
    assert names["dead"] not in left and names["other_host_old"] not in left
    for kept in ("alive", "other_host_fresh", "not_ours", "user_file"):
        assert names[kept] in left
    assert "new.wav" in left
