"""The frame model of the chain (refinement's fast stand-in) against the exact renderer, and the
refinement itself: it moves a mix toward its reference, matches dynamics, and never loses to its start."""

import numpy as np
import pytest

from tonematch.inference import character, refine
from tonematch.models import excerpts
from tonematch.models.chain.exact import render_array
from tonematch.models.chain.settings import Settings

from signals import music_like

SR = 44100


def _p(settings):
    return {k: float(v) for k, v in settings.values.items()}


def _settings(**values):
    s = Settings.defaults(SR)
    s.values.update(values)
    return s


CASES = [
    dict(),
    {
        "eq.low_shelf.gain_db": 4.0,
        "eq.high_shelf.gain_db": 5.0,
        "eq.peak2.gain_db": -4.0,
        "width.width": 1.4,
        "loudness.target_lufs": -12.0,
    },
    {
        "compressor.threshold_db": -30.0,
        "compressor.ratio": 4.0,
        "compressor.attack_ms": 5.0,
        "compressor.release_ms": 100.0,
        "loudness.target_lufs": -9.0,
    },
]


@pytest.mark.parametrize("values", CASES)
def test_frame_model_agrees_with_the_exact_render(values):
    x = music_like(12.0, SR, seed=3)
    s = _settings(**values)
    clips = excerpts.excerpts(x, SR)
    frames = character.analyse(clips, SR)
    model = character.plain(character.measure(character.render(frames, _p(s), s.bypass), frames))
    exact = character.character_of(excerpts.split(render_array(excerpts.joined(clips), s, SR), clips.shape[0]), SR)
    assert float(exact["lufs"]) == pytest.approx(s.values["loudness.target_lufs"], abs=0.15)
    assert float(model["lufs"]) == pytest.approx(float(exact["lufs"]), abs=0.3)
    # above 200 Hz, where the loss compares widths (the bass of this signal is mono: -44 dB)
    assert np.abs((model["width"] - exact["width"])[1:]).max() < 0.5
    d_tone = model["tone"] - exact["tone"]
    # EQ and width are exact per bin; the compressor's fast gain changes colour the bass a little
    # (the refinement's second descent takes that bias off)
    assert np.abs(d_tone - d_tone.mean()).mean() < 1.0 and np.abs(d_tone - d_tone.mean()).max() < 3.0
    assert float(model["spread"]) == pytest.approx(float(exact["spread"]), abs=1.0)
    assert float(model["crest"]) == pytest.approx(float(exact["crest"]), abs=1.5)


def test_neutral_frames_measure_the_signal_itself():
    x = music_like(6.0, SR, seed=1)
    clips = excerpts.excerpts(x, SR)
    frames = character.analyse(clips, SR)
    a = character.plain(character.measure(character.neutral(frames), frames))
    # a neutral chain with the loudness stage and limiter off is the identity
    neutral = Settings.defaults(SR)
    b = character.measure(character.render(frames, _p(neutral), neutral.bypass | {"loudness", "limiter"}), frames)
    b = character.plain(b)
    for key in ("tone", "width", "spread", "crest", "lufs"):
        assert np.allclose(a[key], b[key], atol=1e-6), key


def _target_from(reference_settings, seed):
    ref = render_array(music_like(12.0, SR, seed=seed), reference_settings, SR)
    return character.character_of(excerpts.excerpts(ref, SR), SR)


def test_refinement_recovers_tone_and_width_of_a_processed_reference():
    truth = _settings(**{"eq.low_shelf.gain_db": -4.0, "eq.high_shelf.gain_db": 6.0, "width.width": 1.5})
    target = _target_from(truth, seed=7)  # another "song" of the same kind, processed by `truth`
    x = music_like(12.0, SR, seed=8)
    clips = excerpts.excerpts(x, SR)
    frames = character.analyse(clips, SR)
    start = Settings.defaults(SR)
    result = refine.refine(start, clips, frames, target, pull=refine.PULL_MEASURED)
    assert result.kept and result.distance < 0.3 * result.start_distance
    v = result.settings.values
    assert v["width.width"] > 1.25
    # the EQ leans the same way as the truth: more treble than bass
    lows = v["eq.low_shelf.gain_db"] + v["eq.peak1.gain_db"]
    highs = v["eq.high_shelf.gain_db"] + v["eq.peak4.gain_db"]
    assert highs - lows > 4.0


def test_refinement_lets_go_of_its_frames():
    """A batch or the studio refines many times in one process: nothing a refinement made may
    outlive it (a gradient registered per call once kept every mix's frames, ~9 MB each)."""
    import gc
    import weakref

    target = _target_from(_settings(**{"eq.high_shelf.gain_db": 4.0}), seed=7)
    clips = excerpts.excerpts(music_like(6.0, SR, seed=8), SR)
    frames = character.analyse(clips, SR)
    alive = weakref.ref(frames)
    result = refine.refine(Settings.defaults(SR), clips, frames, target, steps=3)
    assert result.settings is not None
    del frames, result
    gc.collect()
    assert alive() is None


def test_refinement_compresses_toward_a_dense_reference_and_not_a_dynamic_one():
    x = music_like(12.0, SR, seed=8)
    clips = excerpts.excerpts(x, SR)
    frames = character.analyse(clips, SR)
    start = _settings(**{"compressor.threshold_db": -20.0, "compressor.ratio": 1.5})
    dense = _target_from(
        _settings(
            **{
                "compressor.threshold_db": -40.0,
                "compressor.ratio": 8.0,
                "compressor.attack_ms": 2.0,
                "loudness.target_lufs": -8.0,
            }
        ),
        seed=7,
    )
    dynamic = _target_from(Settings.defaults(SR), seed=7)
    kw = dict(groups=("dynamics",), pull=refine.PULL_MEASURED)
    squeezed = refine.refine(start, clips, frames, dense, **kw).settings.values
    open_ = refine.refine(start, clips, frames, dynamic, **kw).settings.values

    def reduction(v):  # static gain reduction 20 dB above the threshold
        return 20.0 * (1 - 1 / v["compressor.ratio"]) + 0.0 * v["compressor.threshold_db"]

    assert reduction(squeezed) > reduction(open_) + 3.0


def test_refinement_gradient_equals_finite_differences():
    """The frame model's gradients (autograd, with the smoother's hand-written adjoint) against
    central differences, for every refined setting: EQ, all five compressor controls, width."""
    clips = excerpts.excerpts(music_like(12.0, SR, seed=3), SR)
    frames = character.analyse(clips, SR)
    target = character.character_of(excerpts.excerpts(music_like(12.0, SR, seed=5), SR), SR)
    s = _settings(**CASES[2], **{"eq.high_shelf.gain_db": 3.0, "width.width": 1.2})
    keys = refine.refinable_keys(s, ("eq", "dynamics", "width"))
    assert {"compressor.attack_ms", "compressor.release_ms", "width.width", "eq.peak3.q"} <= set(keys)
    problem = refine._Problem(s, frames, target, keys, pull=10.0)
    u = np.clip(problem.u0 + 0.03 * np.sin(np.arange(len(keys))), 0.0, 1.0)
    _, grad = problem.value_and_grad(u)
    h = 1e-6
    for i, key in enumerate(keys):
        e = np.zeros_like(u)
        e[i] = h
        fd = (problem.value_and_grad(u + e)[0] - problem.value_and_grad(u - e)[0]) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=1e-2, abs=0.05), key


def test_literal_sets_how_far_the_network_start_moves_toward_the_reference():
    """From the network's start (match's default) refinement moves tone and width toward a blend
    of the start's character and the reference's: literal 0 keeps the start, 1 goes all the way,
    in between lies between; the compressor stays as read. From a measured start (here the
    matcher's) the reference's density and width count too."""
    from tonematch.inference import match
    from tonematch.inference.inputs import analyse_array

    truth = _settings(
        **{
            "eq.high_shelf.gain_db": 6.0,
            "compressor.threshold_db": -40.0,
            "compressor.ratio": 8.0,
            "width.width": 1.6,
            "loudness.target_lufs": -8.0,
        }
    )
    mix = analyse_array(music_like(12.0, SR, seed=8), SR)
    target = match.target_from(analyse_array(render_array(music_like(12.0, SR, seed=7), truth, SR), SR))
    start = {"compressor.threshold_db": -20.0, "compressor.ratio": 1.5}
    dynamics = ("compressor.threshold_db", "compressor.ratio", "compressor.attack_ms")
    reference = target.measured()

    def tone_gap(char):  # RMS difference of two tonal balances, dB
        d = char["tone"] - reference["tone"]
        return float(np.sqrt(np.mean((d - d.mean()) ** 2)))

    results = {}
    for literal in (0.0, 0.5, 1.0):
        options = match.Options(literal=literal)
        settings, notes = match.finish(_settings(**start), mix, target, options, {"start": "network"})
        assert all(settings.values[k] == _settings(**start).values[k] for k in dynamics)
        results[literal] = refine.exact_character(settings, mix.clips, SR)
    gap = {k: tone_gap(v) for k, v in results.items()}
    width_gap = {k: float(np.mean(np.abs(v["width"][1:] - reference["width"][1:]))) for k, v in results.items()}
    assert gap[1.0] < 0.7 * gap[0.0] and gap[1.0] < gap[0.5] < gap[0.0]
    assert width_gap[1.0] < 0.5 * width_gap[0.0]

    measured, _ = match.finish(_settings(**start), mix, target, match.Options(), {"start": "matcher"})
    assert measured.values["compressor.ratio"] > 2.5 or measured.values["width.width"] > 1.2


def test_literal_copies_the_reference_tilt_first_then_its_detail():
    """blended_target: at literal 0.5 the straight-line tilt of the reference's tonal move is
    copied whole and its detail (a bump) and width not at all; at 1 all three; at 0 none."""
    centres = 25.0 * 2.0 ** (np.arange(60) / 6.0)
    octaves = np.log2(centres)
    start = {"tone": np.zeros(60), "width": np.array([-30.0, -12.0, -10.0, -9.0]), "crest": 12.0}
    tilt = 1.5 * (octaves - octaves.mean())
    bump = 4.0 * np.exp(-0.5 * ((octaves - np.log2(1000.0)) / 0.7) ** 2)
    reference = {"tone": tilt + bump, "width": np.array([-28.0, -8.0, -6.0, -5.0]), "crest": 8.0}
    sel = (centres >= 30.0) & (centres <= 16000.0)

    def slope(tone):
        return np.polyfit(octaves[sel], tone[sel], 1)[0]

    half = refine.blended_target(start, reference, 0.5, centres)
    full = refine.blended_target(start, reference, 1.0, centres)
    none = refine.blended_target(start, reference, 0.0, centres)
    assert slope(half["tone"]) == pytest.approx(slope(full["tone"]), rel=0.02)
    assert slope(full["tone"]) == pytest.approx(slope(refine.blended_target(start, reference, 1.0, centres)["tone"]))
    residual = half["tone"] - np.polyval(np.polyfit(octaves[sel], half["tone"][sel], 1), octaves)
    assert np.abs(residual[sel]).max() < 0.05  # no bump at 0.5
    assert full["tone"][np.argmin(np.abs(centres - 1000.0))] > half["tone"][np.argmin(np.abs(centres - 1000.0))] + 2.0
    np.testing.assert_allclose(none["tone"], start["tone"])
    np.testing.assert_allclose(half["width"], start["width"])  # the width follows the detail's share
    np.testing.assert_allclose(full["width"], reference["width"])
    assert half["crest"] == start["crest"]  # the dynamics stay the start's
    assert refine.literal_shares(0.25) == (0.5, 0.0) and refine.literal_shares(0.75) == (1.0, 0.5)


def test_the_reference_is_read_against_half_the_mix_and_half_typical_music():
    """tone_anchor: with a typical balance, a mix brighter than typical music moves the anchor
    half of the way there, so the tilt the blend copies is the reference's against that blend
    (at literal 0.4 the target tilts 0.6 of the mix's departure plus 0.8 of the reference's,
    where the start alone as anchor gives 0.2 and 0.8); at literal 1 the reference is copied."""
    centres = 25.0 * 2.0 ** (np.arange(60) / 6.0)
    octaves = np.log2(centres)
    sel = (centres >= 40.0) & (centres <= 12000.0)
    line = octaves - octaves.mean()
    typical = {"centres_hz": list(centres), "tone_db": list(np.zeros(60))}
    mix = {"tone": 1.0 * line, "width": np.zeros(4)}  # brighter than typical: +1 dB / octave
    reference = {"tone": -0.5 * line, "width": np.zeros(4)}  # darker: -0.5 dB / octave
    start = dict(mix)  # the network left the tone alone

    def slope(tone):
        return np.polyfit(octaves[sel], np.asarray(tone)[sel], 1)[0]

    def target_slope(literal, typ):
        anchor = refine.tone_anchor(start, mix, typ, literal, centres)
        return slope(refine.blended_target(start, reference, literal, centres, anchor)["tone"])

    assert target_slope(0.4, typical) == pytest.approx(0.6 * 1.0 + 0.8 * -0.5, abs=0.02)
    assert target_slope(0.4, None) == pytest.approx(0.2 * 1.0 + 0.8 * -0.5, abs=0.02)
    assert target_slope(1.0, typical) == pytest.approx(-0.5, abs=0.02)  # copied, whatever is typical
    np.testing.assert_allclose(refine.tone_anchor(start, mix, None, 0.4, centres), start["tone"])


def test_the_tilt_taken_never_goes_past_the_reference_or_away_from_it():
    """tilt_taken / blended_target: read against an anchor brighter than the start, a reference
    a little darker than the start asks for more darkening than it has (held at its own balance),
    and one a little brighter is read darker (none taken); without an anchor, or where the
    reference's own balance is further away than the share, the share is taken as it is."""
    from tonematch.inference import explain

    centres = 25.0 * 2.0 ** (np.arange(60) / 6.0)
    octaves = np.log2(centres)
    line = octaves - octaves.mean()
    start = {"tone": np.zeros(60), "width": np.zeros(4)}
    anchor = 1.0 * line  # the anchor reads 1 dB / octave brighter than the start

    def tob(tone):
        return refine.treble_over_bass_db(tone, centres)

    a_little_darker = {"tone": -0.2 * line, "width": np.zeros(4)}
    wanted, own, taken = refine.tilt_taken(start, a_little_darker, 0.4, centres, anchor)
    assert wanted < own < 0.0 and taken == pytest.approx(own)
    target = refine.blended_target(start, a_little_darker, 0.4, centres, anchor)
    assert tob(target["tone"]) == pytest.approx(own, abs=0.05)  # on the reference's tilt, not past it

    a_little_brighter = {"tone": 0.3 * line, "width": np.zeros(4)}
    wanted, own, taken = refine.tilt_taken(start, a_little_brighter, 0.4, centres, anchor)
    assert wanted < 0.0 < own and taken == 0.0
    assert abs(tob(refine.blended_target(start, a_little_brighter, 0.4, centres, anchor)["tone"])) < 0.05

    far_darker = {"tone": -3.0 * line, "width": np.zeros(4)}
    wanted, own, taken = refine.tilt_taken(start, far_darker, 0.4, centres, anchor)
    assert own < wanted < 0.0 and taken == wanted
    wanted, own, taken = refine.tilt_taken(start, a_little_darker, 0.4, centres)  # no anchor: a share of it
    assert taken == wanted == pytest.approx(0.8 * own)

    reading = {"reference_tilt_db": -5.0, "reference_detail_db": 1.0, "tilt_share": 0.8, "detail_share": 0.0,
               "moved_tilt_db": -1.0, "own_tilt_db": -1.2, "taken_tilt_db": -1.2, "literal": 0.4}  # fmt: skip
    assert "held at its own balance, 1.2 dB darker than the network's master" in explain.reference_reading(
        reading, refined=True
    )
    reading.update(own_tilt_db=1.5, taken_tilt_db=0.0)
    assert "none taken: its own balance reads 1.5 dB brighter than" in explain.reference_reading(reading, True)
    reading.update(own_tilt_db=-9.0, taken_tilt_db=-4.0)
    assert "held" not in explain.reference_reading(reading, True)  # the share, taken whole


def test_the_run_says_how_it_read_the_reference_and_how_far_the_master_moved():
    """From the network's start, match's notes carry the reading the `reference:` line prints: a
    reference mastered 6 dB brighter (high shelf) reads brighter and moves the master's treble
    up, 6 dB darker reads darker and moves it down, and at --literal 0 nothing is taken."""
    from tonematch.inference import explain, match
    from tonematch.inference.inputs import analyse_array

    mix = analyse_array(music_like(12.0, SR, seed=8), SR)
    song = music_like(12.0, SR, seed=7)
    readings = {}
    for shelf in (6.0, -6.0):
        ref = render_array(song, _settings(**{"eq.high_shelf.gain_db": shelf, "eq.high_shelf.freq_hz": 3000.0}), SR)
        target = match.target_from(analyse_array(ref, SR))
        _, notes = match.finish(_settings(), mix, target, match.Options(literal=0.4), {"start": "network"})
        readings[shelf] = notes
    bright, dark = readings[6.0]["reading"], readings[-6.0]["reading"]
    # a +/-6 dB shelf at 3 kHz moves treble against bass by about 12 dB between the two references
    assert bright["reference_tilt_db"] - dark["reference_tilt_db"] > 6.0
    assert bright["moved_tilt_db"] > 1.0 and dark["moved_tilt_db"] < -1.0
    assert (bright["tilt_share"], bright["detail_share"], bright["literal"]) == (0.8, 0.0, 0.4)
    words = explain.reference_reading(bright, refined=readings[6.0]["refined"])
    assert "brighter" in words and "--literal 0.4 takes 80 % of the tilt" in words
    # a shelf is mostly tilt: what is left for 0.5 and up to copy is the smaller part
    assert 0.0 <= bright["reference_detail_db"] < abs(bright["reference_tilt_db"])
    assert f"finer balance {bright['reference_detail_db']:.1f} dB RMS apart" in words
    assert "darker" in explain.reference_reading(dark, refined=readings[-6.0]["refined"])

    _, notes = match.finish(_settings(), mix, target, match.Options(literal=0.0), {"start": "network"})
    assert notes["reading"]["tilt_share"] == 0.0 and abs(notes["reading"]["moved_tilt_db"]) < 0.5
    assert "takes none of it" in explain.reference_reading(notes["reading"], bool(notes.get("refined")))


def test_the_tone_bands_are_the_same_at_every_rate():
    at_44k = character.analyse(np.zeros((1, 2, 4096), np.float32), 44100).centers_hz
    for rate in (8000, 16000, 22050, 48000, 96000):
        centres = character.analyse(np.zeros((1, 2, 4096), np.float32), rate).centers_hz
        below = min(len(centres), len(at_44k)) - 1  # the top band ends at each rate's Nyquist
        np.testing.assert_allclose(centres[:below], at_44k[:below], rtol=1e-12)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_a_mix_at_a_low_rate_reads_the_tonal_balance_it_reads_at_44k(example_mix, rate):
    # bands laid out on each rate's own bins (15.6 Hz at 8 and 16 kHz, 21.5 Hz at 44.1 kHz) read
    # this mix 1.5-1.6 dB RMS away from its 44.1 kHz balance (docs/decisions.md)
    import soundfile as sf
    import soxr

    x, sr = sf.read(example_mix, dtype="float32", always_2d=True)
    ours = character.analyse(x.T[None], sr)
    low = soxr.resample(x, sr, rate).T[None]
    theirs = character.analyse(low, rate)
    tone = character.character_of(x.T[None], sr)["tone"]
    at_rate = np.interp(np.log(ours.centers_hz), np.log(theirs.centers_hz), character.character_of(low, rate)["tone"])
    keep = (ours.centers_hz >= 30.0) & (ours.centers_hz <= 0.4 * rate)
    diff = (tone - at_rate)[keep]
    assert np.sqrt(np.mean((diff - diff.mean()) ** 2)) < 1.0
