"""Never overwrite a source: the output plan, the overwrite policy and the exit codes of every
command that writes (render, match, master, style fit / from-references).

Each refusal asserts what the README promises: exit 2, exactly one line `tonematch: error: ...`
without a traceback, nothing on stdout, every file in the folder byte-identical afterwards and
nothing added (no output, no temp file). Runs that succeed use --no-refine on 2-second mixes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat

import numpy as np
import pytest
import soundfile as sf

from tonematch.inference.cli import main

from signals import music_like

SR = 22050
FAST = ["--no-refine"]


def run(capsys, *args):
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # argparse
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) -> its SHA-256; symlinks by their target."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                found[rel] = "-> " + os.readlink(path)
            else:
                with open(path, "rb") as f:
                    found[rel] = hashlib.sha256(f.read()).hexdigest()
    return found


def refused(capsys, folder, *args, needle: str = "") -> str:
    """Run, and assert the refusal contract; returns the error line."""
    before = snapshot(folder)
    code, out, err = run(capsys, *args)
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("tonematch: error: "), err
    assert "Traceback" not in err and out == ""
    assert needle in lines[0], lines[0]
    assert snapshot(folder) == before  # inputs byte-identical, nothing left behind
    return lines[0]


def write(path, x, sr=SR, subtype="PCM_16"):
    sf.write(str(path), np.ascontiguousarray(np.atleast_2d(x).T), sr, subtype=subtype)
    return path


@pytest.fixture
def files(tmp_path):
    """A mix and a reference (2 s, 22.05 kHz) in a fresh folder."""
    write(tmp_path / "mix.wav", music_like(2.0, SR, seed=1))
    write(tmp_path / "ref.wav", music_like(2.0, SR, seed=2, level_db=-12.0))
    return tmp_path


# -- an output is never an input --------------------------------------------------------------------


def test_the_reference_is_never_overwritten(files, capsys):
    line = refused(capsys, files, "match", files / "mix.wav", "-r", files / "ref.wav", "-o", files / "ref.wav")
    assert "would overwrite the reference" in line


@pytest.mark.parametrize("how", ["symlink", "hardlink", "dotdot"])
def test_the_reference_is_recognised_through_links_and_dotdot(files, capsys, how):
    (files / "sub").mkdir()
    if how == "symlink":
        os.symlink(files / "ref.wav", files / "alias.wav")
        out = files / "alias.wav"
    elif how == "hardlink":
        os.link(files / "ref.wav", files / "alias.wav")
        out = files / "alias.wav"
    else:
        out = f"{files}/sub/../ref.wav"
    line = refused(capsys, files, "match", files / "mix.wav", "-r", files / "ref.wav", "-o", out, "-f")
    assert "would overwrite the reference" in line and "the same file as" in line


def test_the_settings_and_report_beside_the_output_are_checked_too(files, capsys):
    # a reference whose name is the report's (libsndfile reads by content, not by name)
    shutil.copy(files / "ref.wav", files / "master.png")
    line = refused(
        capsys, files, "match", files / "mix.wav", "-r", files / "master.png", "-o", files / "master.wav", "--report"
    )
    assert "the report" in line and "would overwrite the reference" in line
    os.symlink(files / "mix.wav", files / "take.json")  # the settings file would land on the mix
    line = refused(capsys, files, "match", files / "mix.wav", "-r", files / "ref.wav", "-o", files / "take.wav", "-f")
    assert "the settings file" in line and "would overwrite the mix" in line


def test_the_model_files_are_inputs(files, capsys):
    from tonematch.models.files import DEFAULT_MODEL

    for suffix in (".safetensors", ".json"):
        shutil.copy(str(DEFAULT_MODEL) + suffix, files / f"net{suffix}")
    line = refused(
        capsys,
        files,
        "match",
        files / "mix.wav",
        "-r",
        files / "ref.wav",
        "-o",
        files / "net.wav",
        "--model",
        files / "net",
    )
    assert "would overwrite the model file" in line


def test_master_never_writes_over_its_style(files, capsys):
    # a style named like audio: refused before it is even read
    shutil.copy(files / "ref.wav", files / "style.wav")
    line = refused(capsys, files, "master", files / "mix.wav", "-s", files / "style.wav", "-o", files / "style.wav")
    assert "would overwrite the style" in line


def test_render_never_writes_over_its_input_and_keeps_a_params_file_that_sits_beside_the_output(files, capsys):
    params = files / "take.json"
    params.write_text(json.dumps({"chain": [{"processor": "loudness", "target_lufs": -16.0}]}))
    refused(capsys, files, "render", files / "mix.wav", "--params", params, "-o", files / "mix.wav", needle="input")
    # OUT.json is the --params file: it is left exactly as it is, and the render goes on
    before = params.read_bytes()
    code, out, err = run(capsys, "render", files / "mix.wav", "--params", params, "-o", files / "take.wav")
    assert code == 0, err
    assert params.read_bytes() == before and "the --params file, unchanged" in out
    # a new output gets the settings it was rendered with beside it, which render it again bit for bit
    code, _, err = run(capsys, "render", files / "mix.wav", "--params", params, "-o", files / "again.wav")
    assert code == 0, err
    code, _, err = run(capsys, "render", files / "mix.wav", "--params", files / "again.json", "-o", files / "third.wav")
    assert code == 0, err
    assert (files / "third.wav").read_bytes() == (files / "again.wav").read_bytes() == (files / "take.wav").read_bytes()


def test_style_outputs_are_checked_against_their_inputs(files, capsys):
    # from-references: a reference master given by a name that is the style's
    shutil.copy(files / "ref.wav", files / "refs.tmstyle")
    line = refused(
        capsys, files, "style", "from-references", files / "refs.tmstyle", "-o", files / "refs.tmstyle", "-f"
    )
    assert "would overwrite the reference master" in line
    # fit: a CSV pair whose master file is named like the style
    shutil.copy(files / "ref.wav", files / "mine.tmstyle")
    (files / "pairs.csv").write_text("mix,master\nmix.wav,mine.tmstyle\nmix.wav,ref.wav\n")
    line = refused(capsys, files, "style", "fit", files / "pairs.csv", "-o", files / "mine", "-f", "--no-check")
    assert "would overwrite the master of a pair" in line


# -- batches -----------------------------------------------------------------------------------------


@pytest.fixture
def batch(files):
    folder = files / "in"
    folder.mkdir()
    x = music_like(2.0, SR, seed=3)
    write(folder / "song.wav", x)
    sf.write(str(folder / "song.ogg"), x.T, SR)
    return folder


def test_a_batch_never_writes_a_master_over_an_input_or_another_master(files, batch, capsys):
    ref = files / "ref.wav"
    line = refused(capsys, files, "match", batch, "-r", ref, "-o", batch, needle="is the mixes folder")
    line = refused(capsys, files, "match", batch, "-r", ref, "-o", batch / "masters", needle="inside the mixes folder")
    line = refused(capsys, files, "match", batch, "-r", ref, "-o", files / "out")
    assert "song.ogg' and '" in line and "song.wav' would both be written to" in line and "--keep-extension" in line
    assert not (files / "out").exists()  # nothing made for a refused plan, not even the folder
    line = refused(capsys, files, "match", batch / "song.wav", batch / "song.wav", "-r", ref, "-o", files / "out")
    assert "is given twice" in line


def test_a_flac_and_a_wav_of_one_song_would_share_their_settings_file(files, batch, capsys):
    os.remove(batch / "song.ogg")
    sf.write(str(batch / "song.flac"), music_like(2.0, SR, seed=3).T, SR, subtype="PCM_16")
    line = refused(capsys, files, "match", batch, "-r", files / "ref.wav", "-o", files / "out")
    assert (
        "song.flac' and '" in line and "would both be written to" in line and line.endswith("('song_flac', 'song_wav')")
    )


def test_one_mix_into_a_folder_is_named_after_it_and_its_error_is_the_runs(files, capsys):
    (files / "masters").mkdir()
    code, _, err = run(capsys, "match", files / "mix.wav", "-r", files / "ref.wav", "-o", files / "masters", *FAST)
    assert code == 0, err
    assert sorted(os.listdir(files / "masters")) == ["mix.json", "mix.wav"]
    write(files / "silent.wav", np.zeros((2, SR), np.float32))
    refused(
        capsys, files, "match", files / "silent.wav", "-r", files / "ref.wav", "-o", f"{files}/new/", needle="silent"
    )


def test_names_that_differ_only_in_case_are_one_file_on_some_disks(files, capsys):
    folder = files / "in"
    folder.mkdir()
    shutil.copy(files / "mix.wav", folder / "Song.wav")
    shutil.copy(files / "mix.wav", folder / "song.wav")
    line = refused(capsys, files, "match", folder, "-r", files / "ref.wav", "-o", files / "out")
    assert "differ only in case" in line


def test_keep_extension_gives_each_input_its_own_master(files, batch, capsys):
    out = files / "out"
    code, text, err = run(capsys, "match", batch, "-r", files / "ref.wav", "-o", out, "--keep-extension", *FAST)
    assert code == 0, err
    assert sorted(os.listdir(out)) == ["song_ogg.json", "song_ogg.wav", "song_wav.json", "song_wav.wav"]
    assert "in/song.ogg -> " in text and "in/song.wav -> " in text


def test_a_batch_exits_1_when_a_mix_fails_and_writes_the_others(files, capsys):
    folder = files / "in"
    folder.mkdir()
    shutil.copy(files / "mix.wav", folder / "a.wav")
    write(folder / "b_silent.wav", np.zeros((2, 2 * SR), np.float32))
    code, text, err = run(capsys, "match", folder, "-r", files / "ref.wav", "-o", files / "out", *FAST)
    assert code == 1
    silent = folder / "b_silent.wav"
    assert err.splitlines() == [f"tonematch: error: cannot master '{silent}': it is digitally silent"]
    assert sorted(os.listdir(files / "out")) == ["a.json", "a.wav"]
    # -v: the traceback of a mix that failed in a batch, then the same line
    code, _, err = run(capsys, "match", folder, "-r", files / "ref.wav", "-o", files / "out2", "-v", *FAST)
    assert code == 1 and "Traceback" in err and err.splitlines()[-1].startswith("tonematch: error: ")


# -- overwrite policy ---------------------------------------------------------------------------------


def test_existing_outputs_are_replaced_only_with_overwrite(files, capsys):
    mix, ref, out = files / "mix.wav", files / "ref.wav", files / "out.wav"
    code, _, err = run(capsys, "match", mix, "-r", ref, "-o", out, *FAST)
    assert code == 0, err
    line = refused(capsys, files, "match", mix, "-r", ref, "-o", out, *FAST, needle="already exists")
    assert "--overwrite (-f)" in line
    # a settings file or report alone is enough to refuse: it would disagree with the new master
    os.remove(out)
    refused(capsys, files, "match", mix, "-r", ref, "-o", out, *FAST, needle="the settings file")
    os.remove(files / "out.json")
    (files / "out.png").write_bytes(b"an earlier report")
    refused(capsys, files, "match", mix, "-r", ref, "-o", out, "--report", *FAST, needle="the report")
    code, _, err = run(capsys, "match", mix, "-r", ref, "-o", out, "--target-lufs", "-16", "-f", *FAST)
    assert code == 0 and err == "", err  # no master was replaced: the PNG is not called stale
    chain = {p["processor"]: p for p in json.loads((files / "out.json").read_text())["chain"]}
    assert chain["loudness"]["target_lufs"] == -16.0  # the settings beside the master are the new ones
    # a master replaced without --report: the earlier report stays (it may be anything named so), and is named
    code, _, err = run(capsys, "match", mix, "-r", ref, "-o", out, "-f", *FAST)
    assert code == 0 and (files / "out.png").read_bytes() == b"an earlier report"
    assert err.splitlines() == [f"tonematch: warning: '{files / 'out.png'}' is left as it is: it no longer describes "
                                f"the new '{out}' (--report replaces it)"]  # fmt: skip


def test_render_refuses_a_stale_settings_file_and_replaces_it_with_overwrite(files, capsys):
    params = files / "p.json"
    params.write_text(json.dumps({"chain": [{"processor": "loudness", "target_lufs": -18.0}]}))
    (files / "out.json").write_text('{"chain": []}')  # left by an earlier match
    refused(capsys, files, "render", files / "mix.wav", "--params", params, "-o", files / "out.wav", needle="out.json")
    code, _, err = run(capsys, "render", files / "mix.wav", "--params", params, "-o", files / "out.wav", "-f")
    assert code == 0, err
    beside = json.loads((files / "out.json").read_text())
    assert {p["processor"]: p for p in beside["chain"]}["loudness"]["target_lufs"] == -18.0


def test_a_read_only_output_is_not_replaced_even_with_overwrite(files, capsys):
    out = files / "locked.wav"
    shutil.copy(files / "mix.wav", out)
    os.chmod(out, 0o444)
    try:
        refused(capsys, files, "match", files / "mix.wav", "-r", files / "ref.wav", "-o", out, "-f", needle="read-only")
    finally:
        os.chmod(out, 0o644)


def test_a_read_only_folder_is_refused_before_any_work(files, capsys):
    locked = files / "locked"
    locked.mkdir()
    os.chmod(locked, stat.S_IRUSR | stat.S_IXUSR)
    try:
        refused(
            capsys,
            files,
            "match",
            files / "mix.wav",
            "-r",
            files / "ref.wav",
            "-o",
            locked / "o.wav",
            needle="not writable",
        )
        # style fit checks its output before it reads a single pair
        (files / "pairs.csv").write_text("mix,master\nmix.wav,ref.wav\n")
        refused(capsys, files, "style", "fit", files / "pairs.csv", "-o", locked / "s", needle="not writable")
    finally:
        os.chmod(locked, 0o755)


def test_an_existing_style_is_replaced_only_with_overwrite(files, capsys):
    (files / "refs").mkdir()
    shutil.copy(files / "ref.wav", files / "refs" / "a.wav")
    shutil.copy(files / "mix.wav", files / "refs" / "b.wav")
    (files / "refs" / "c_broken.wav").write_bytes(b"RIFF not a wave")
    code, out, err = run(capsys, "style", "from-references", files / "refs", "-o", files / "refs.tmstyle")
    # a reference that cannot be used is left out with one warning, as style fit leaves out a pair
    assert code == 0, err
    assert err.splitlines() == [line for line in err.splitlines() if line.startswith("tonematch: warning: ")]
    assert len(err.splitlines()) == 1 and "c_broken.wav" in err and "(left out)" in err
    assert "2 reference masters, 1 left out" in out
    refused(capsys, files, "style", "from-references", files / "refs", "-o", files / "refs", needle="already exists")
    code, _, err = run(capsys, "style", "from-references", files / "refs", "-o", files / "refs.tmstyle", "-f")
    assert code == 0, err
    os.remove(files / "refs" / "a.wav")
    os.remove(files / "refs" / "b.wav")
    code, _, err = run(capsys, "style", "from-references", files / "refs", "-o", files / "none")
    assert code == 2 and err.splitlines()[-1] == "tonematch: error: no usable reference masters among the 1 given"
    assert not (files / "none.tmstyle").exists()


def test_a_bug_is_one_line_with_exit_1_and_its_traceback_under_verbose(files, capsys, monkeypatch):
    from tonematch.inference import analyze

    def broken(*args, **kwargs):
        return 1 / 0

    monkeypatch.setattr(analyze, "analyze_file", broken)
    code, out, err = run(capsys, "analyze", files / "mix.wav")
    line = (
        "tonematch: error: internal error (ZeroDivisionError: division by zero); please report it with the output of -v"
    )
    assert code == 1 and out == "" and err.splitlines() == [line]
    code, _, err = run(capsys, "analyze", files / "mix.wav", "-v")
    assert code == 1 and "Traceback" in err and "ZeroDivisionError" in err


def _wrapped(interrupt: BaseException):
    """A signal handler's exception as a numba kernel hands it back: its result is unpickled in
    Python, where the handler runs, and CPython wraps what it raised in SystemError at each level."""

    def raise_it(*args, **kwargs):
        try:
            try:
                raise interrupt
            except BaseException as exc:
                raise SystemError("<function _numba_unpickle> returned a result with an exception set") from exc
        except SystemError as exc:
            raise SystemError("CPUDispatcher(<function _group_stats>) returned a result with an exception set") from exc

    return raise_it


@pytest.mark.parametrize(
    "name, interrupt, status", [("interrupted", KeyboardInterrupt(), 130), ("terminated", None, 143)]
)
def test_a_signal_inside_a_compiled_kernel_is_an_interrupt_not_a_bug(
    files, capsys, monkeypatch, name, interrupt, status
):
    from tonematch.inference import analyze, batch
    from tonematch.inference.cli import Terminated

    interrupt = interrupt or Terminated()
    monkeypatch.setattr(analyze, "analyze_file", _wrapped(interrupt))
    code, out, err = run(capsys, "analyze", files / "mix.wav")
    assert code == status and err.splitlines() == [f"tonematch: {name}"]
    # in a batch it stops the run, not only the mix it met
    folder = files / "in"
    folder.mkdir()
    for stem in ("a", "b"):
        write(folder / f"{stem}.wav", music_like(2.0, SR, seed=3))
    calls = []

    def master_file(*args, **kwargs):
        calls.append(args[0])
        _wrapped(interrupt)()

    monkeypatch.setattr(batch, "master_file", master_file)
    code, out, err = run(capsys, "match", folder, "-r", files / "ref.wav", "-o", files / "out", *FAST)
    assert code == status and err.splitlines()[-1] == f"tonematch: {name}" and len(calls) == 1
    # nor is it one reference master, or one pair, left out of a style
    from tonematch.inference import inputs
    from tonematch.inference.style import fit

    monkeypatch.setattr(inputs, "analyse_input", _wrapped(interrupt))
    code, out, err = run(capsys, "style", "from-references", folder, "-o", files / "refs.tmstyle")
    assert code == status and err.splitlines() == [f"tonematch: {name}"]
    for side in ("mix", "master"):
        (files / "pairs" / side).mkdir(parents=True)
        for stem in ("a", "b"):
            write(files / "pairs" / side / f"{stem}.wav", music_like(2.0, SR, seed=3))
    monkeypatch.setattr(fit, "read_pair", _wrapped(interrupt))
    code, out, err = run(capsys, "style", "fit", files / "pairs", "-o", files / "pairs.tmstyle")
    assert code == status and err.splitlines()[-1] == f"tonematch: {name}"
    assert not (files / "refs.tmstyle").exists() and not (files / "pairs.tmstyle").exists()


def test_no_clobber_rename_holds_against_a_file_that_appears_during_the_run(tmp_path):
    """The plan's check and the final rename are moments apart: without --overwrite the rename
    itself never replaces a file (a hard link fails where the name exists)."""
    from tonematch.data.atomic import Transaction
    from tonematch.data.errors import TonematchError

    target = tmp_path / "master.wav"
    with Transaction(replace=False) as files:
        files.write(target, lambda p: open(p, "wb").write(b"new"))
        files.write(tmp_path / "master.json", lambda p: open(p, "w").write("{}"))
        target.write_bytes(b"someone else's")  # appears after the check
        with pytest.raises(TonematchError, match="already exists"):
            files.commit()
    assert target.read_bytes() == b"someone else's" and sorted(os.listdir(tmp_path)) == ["master.wav"]


# -- exit codes and messages --------------------------------------------------------------------------


def _bad_mixes(folder):
    write(folder / "nan.wav", np.where(np.arange(SR) == 100, np.nan, 0.1).astype(np.float32)[None], subtype="FLOAT")
    (folder / "text.wav").write_text("not audio\n")
    (folder / "empty.wav").write_bytes(b"")
    write(folder / "six.wav", np.full((6, SR), 0.1, np.float32), subtype="FLOAT")
    write(folder / "one.wav", np.full((2, 1), 0.1, np.float32))
    write(folder / "silent.wav", np.zeros((2, SR), np.float32))
    full = (folder / "mix.wav").read_bytes()
    (folder / "cut.wav").write_bytes(full[: len(full) // 2])
    write(folder / "rate.wav", music_like(1.0, 22050)[:, ::4], sr=5512)
    return {
        "nan": ("nan.wav", "NaN"),
        "not_audio": ("text.wav", "not a supported audio file"),
        "empty": ("empty.wav", "empty.wav"),
        "missing": ("nope.wav", "no such file"),
        "six_channels": ("six.wav", "6 channels"),
        "one_frame": ("one.wav", "1 sample(s)"),
        "silent": ("silent.wav", "digitally silent"),
        "truncated": ("cut.wav", "truncated"),
        "rate": ("rate.wav", "5512 Hz"),
    }


@pytest.mark.parametrize(
    "case", ["nan", "not_audio", "empty", "missing", "six_channels", "one_frame", "silent", "truncated", "rate"]
)
def test_a_single_bad_mix_exits_2_with_one_line_about_the_audio(files, capsys, case):
    name, needle = _bad_mixes(files)[case]
    refused(capsys, files, "match", files / name, "-r", files / "ref.wav", "-o", files / "o.wav", *FAST, needle=needle)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["-o", "{d}/mix.wav"], "would overwrite the mix"),
        (["-o", "{d}/./mix.wav"], "would overwrite the mix"),
        (["-o", "{d}/o.mp3"], "unsupported extension"),
        (["-o", "{d}/nodir/o.wav"], "does not exist"),
        (["-o", "{d}/o.wav", "--model", "{d}/nonexistent"], "nonexistent"),
        (["-o", "{d}/o.wav", "--amount", "2"], "--amount"),
        (["-o", "{d}/o.wav", "--skip", "widht"], "unknown group 'widht'"),
    ],
)
def test_single_mix_option_and_path_errors_exit_2(files, capsys, args, needle):
    args = [a.format(d=files) for a in args]
    refused(capsys, files, "match", files / "mix.wav", "-r", files / "ref.wav", *args, *FAST, needle=needle)


def test_a_silent_reference_is_refused(files, capsys):
    write(files / "quiet.wav", np.zeros((2, SR), np.float32))
    refused(
        capsys,
        files,
        "match",
        files / "mix.wav",
        "-r",
        files / "quiet.wav",
        "-o",
        files / "o.wav",
        *FAST,
        needle="cannot use",
    )


def test_argparse_errors_are_tonematch_errors(files, capsys):
    line = refused(capsys, files, "match", files / "mix.wav", "--amount", "lots")
    assert line.startswith("tonematch: error: match: argument --amount: invalid float value")
    line = refused(capsys, files, "style", "fit")
    assert line.startswith("tonematch: error: style fit: ")
    refused(capsys, files, "frobnicate", needle="invalid choice")


def test_master_refuses_a_model_it_would_not_use(files, capsys):
    refused(
        capsys,
        files,
        "master",
        files / "mix.wav",
        "-s",
        files / "none.tmstyle",
        "--model",
        "/nonexistent",
        "-o",
        files / "o.wav",
        needle="master: --model does not apply",
    )


def test_contradicting_options_are_named_in_one_warning_each(files, capsys):
    code, _, err = run(
        capsys,
        "match",
        files / "mix.wav",
        "-r",
        files / "ref.wav",
        "-o",
        files / "o.wav",
        "--platform",
        "apple",
        "--target-lufs",
        "-12",
        "--steps",
        "5",
        *FAST,
    )
    assert code == 0, err
    assert err.splitlines() == [
        "tonematch: warning: --target-lufs -12 overrides apple's -16 LUFS (its -1 dBTP ceiling still applies)",
        "tonematch: warning: --steps has no effect with --no-refine",
    ]
    chain = {p["processor"]: p for p in json.loads((files / "o.json").read_text())["chain"]}
    assert chain["loudness"]["target_lufs"] == -12.0 and chain["limiter"]["ceiling_dbtp"] == -1.0


def test_a_hot_float_mix_is_mastered_as_rendered_without_numpy_noise(files, capsys):
    """A float mix peaking at 1e30 (+600 dBFS) is turned down by a power of two for the analysis
    as for the render (one warning line), and its master keeps the ceiling."""
    write(files / "hot.wav", music_like(2.0, SR, seed=4) * np.float32(1e30), subtype="FLOAT")
    code, out, err = run(capsys, "match", files / "hot.wav", "-r", files / "ref.wav", "-o", files / "o.wav", *FAST)
    assert code == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tonematch: warning: ") and "mis-scaled" in lines[0], err
    # the before line is the mix as the chain read it, not the file's +600 dBFS: it says so
    turned = float(lines[0].split("turned down ")[1].split(" dB")[0])
    assert f"  before (as read, turned down {turned:.1f} dB): " in out, out
    y, _ = sf.read(files / "o.wav", dtype="float32")
    assert np.isfinite(y).all() and 20 * np.log10(np.abs(y).max()) <= -1.0 + 0.05


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--literal", "0.7", "--no-refine"], "--literal has no effect with --no-refine"),
        (["--literal", "0.7", "--model", "none", "--steps", "2"], "--literal has no effect with --model none"),
    ],
)
def test_a_literal_that_nothing_reads_is_named(files, capsys, flags, needle):
    code, _, err = run(capsys, "match", files / "mix.wav", "-r", files / "ref.wav", "-o", files / "o.wav", *flags)
    assert code == 0, err
    said = [line for line in err.splitlines() if "--literal" in line]
    assert len(said) == 1 and said[0].startswith(f"tonematch: warning: {needle}: "), err
