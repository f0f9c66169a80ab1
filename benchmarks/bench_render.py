"""Render speed and memory of the chain.

  python benchmarks/bench_render.py            # 3-minute stereo 44.1 kHz track, exact renderer
  python benchmarks/bench_render.py --hour     # also a 60-minute file from disk (peak RSS)
The track is real music when the corpus is there (~/.cache/tonematch-corpus/music: the first
wesnoth track of at least 3 minutes), else a synthetic music-like signal; it renders with
examples/settings.json, and pedalboard's EQ + compressor + gain + limiter chain (when
importable; GPL, benchmark only, never imported by the package) on the same audio in the same
run gives the ratio. Also the differentiable renderer's forward+backward on a 16 x 2 x 131072
batch. Goals (2 cores): track <= 0.5 s and no slower than pedalboard, batch <= 2 s, hour <= 500 MB.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def _settings(sr):
    from tonematch.models.chain.settings import Settings

    s = Settings.defaults(sr)
    s.bypass = frozenset()
    s.values.update(
        {
            "eq.highpass.freq_hz": 30.0,
            "eq.low_shelf.gain_db": 2.0,
            "eq.peak2.gain_db": -2.0,
            "eq.peak3.gain_db": 1.5,
            "eq.high_shelf.gain_db": 2.0,
            "compressor.threshold_db": -22.0,
            "compressor.ratio": 2.5,
            "compressor.attack_ms": 15.0,
            "compressor.release_ms": 150.0,
            "width.width": 1.15,
            "limiter.ceiling_dbtp": -1.0,
            "loudness.target_lufs": -11.0,
        }
    )
    return s


def _peak_rss_mb() -> float:
    # VmHWM is this process's own high-water mark; ru_maxrss can carry a parent's peak over fork
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _music(seconds, sr):
    """[2, T] float32: the first corpus track of at least `seconds`, else synthetic."""
    import glob

    import numpy as np
    import soundfile as sf

    folder = os.path.expanduser("~/.cache/tonematch-corpus/music/wesnoth-1.16-music")
    for path in sorted(glob.glob(os.path.join(folder, "*.ogg"))):
        info = sf.info(path)
        if info.samplerate == sr and info.channels == 2 and info.duration >= seconds:
            x, _ = sf.read(path, frames=int(seconds * sr), dtype="float32", always_2d=True)
            return np.ascontiguousarray(x.T), os.path.basename(path)
    from signals import music_like

    return music_like(seconds, sr, seed=0, level_db=-20), "synthetic music_like"


def _pedalboard_chain(s):
    """pedalboard's nearest chain to the settings: EQ filters, compressor, gain, limiter."""
    import pedalboard as pb

    v = s.values
    fx = [
        pb.HighpassFilter(v["eq.highpass.freq_hz"]),
        pb.LowShelfFilter(v["eq.low_shelf.freq_hz"], v["eq.low_shelf.gain_db"], v["eq.low_shelf.q"]),
    ]
    fx += [
        pb.PeakFilter(v[f"eq.peak{k}.freq_hz"], v[f"eq.peak{k}.gain_db"], v[f"eq.peak{k}.q"])
        for k in (1, 2, 3, 4)
        if s.enabled("eq", f"peak{k}")
    ]
    fx += [
        pb.HighShelfFilter(v["eq.high_shelf.freq_hz"], v["eq.high_shelf.gain_db"], v["eq.high_shelf.q"]),
        pb.Compressor(
            v["compressor.threshold_db"], v["compressor.ratio"], v["compressor.attack_ms"], v["compressor.release_ms"]
        ),
        pb.Gain(8.0),
        pb.Limiter(v["limiter.ceiling_dbtp"], v["limiter.release_ms"]),
    ]
    return pb.Pedalboard(fx)


def track(seconds=180.0, sr=44100):
    import numpy as np

    from tonematch.models.chain.exact import ExactRenderer, render_array
    from tonematch.models.chain.settings import Settings

    x, name = _music(seconds, sr)
    s = Settings.from_json(os.path.join(HERE, "..", "examples", "settings.json"))
    render_array(x[:, : sr * 2], s, sr)  # load the cached kernels once
    board = None
    try:
        board = _pedalboard_chain(s)
        board(x[:, : sr * 2], sr)
    except ImportError:
        pass
    times, ref = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        r = ExactRenderer(s, sr, x.shape[0])
        y = np.concatenate(list(r.blocks(lambda: (x[:, i : i + 65536] for i in range(0, x.shape[1], 65536)))), axis=1)
        times.append(time.perf_counter() - t0)
        if board is not None:
            t0 = time.perf_counter()
            board(x, sr, reset=True)
            ref.append(time.perf_counter() - t0)
    best = min(times)
    rep = r.report
    print(
        f"exact render, {seconds / 60:.0f} min stereo {sr} Hz ({name}, examples/settings.json): best {best:.3f} s "
        f"of {len(times)} (real-time factor {seconds / best:.0f}x), peak RSS {_peak_rss_mb():.0f} MB; "
        f"limiter passes {rep.get('passes')}, miss {rep.get('miss_lu', 0.0):+.3f} LU, "
        f"{rep.get('predictions')} predictions"
    )
    if ref:
        print(
            f"pedalboard EQ + compressor + gain + limiter, same audio: best {min(ref):.3f} s; "
            f"exact / pedalboard = {best / min(ref):.2f} (time ratio: under 1 is faster than pedalboard)"
        )
    else:
        print("pedalboard not run (not importable: pip install pedalboard; GPL, benchmark only): no ratio")
    loud = _settings(sr)
    t0 = time.perf_counter()
    r = ExactRenderer(loud, sr, x.shape[0])
    for _ in r.blocks(lambda: (x[:, i : i + 65536] for i in range(0, x.shape[1], 65536))):
        pass
    print(
        f"exact render to {loud.values['loudness.target_lufs']:.0f} LUFS: {time.perf_counter() - t0:.3f} s, "
        f"limiter passes {r.report['passes']}, miss {r.report['miss_lu']:+.3f} LU"
    )
    return y


def differentiable(batch=16, frames=131072, sr=44100):
    import torch

    from tonematch.models.chain import TABLE, render_batch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 2, frames, generator=g) * 0.1
    u = torch.rand(batch, len(TABLE), generator=g, dtype=torch.float64)
    for i in range(3):
        uu = u.clone().requires_grad_(True)
        t0 = time.perf_counter()
        y = render_batch(x, TABLE.from_unit(uu, sr), sr)
        t1 = time.perf_counter()
        y.pow(2).mean().backward()
        t2 = time.perf_counter()
        if i:
            print(f"differentiable render {batch}x2x{frames}: forward {t1 - t0:.3f} s, backward {t2 - t1:.3f} s")


def hour_child(path_in, path_out):
    """Runs in a fresh process so its peak RSS is the streaming render alone."""
    import soundfile as sf

    from tonematch.models.chain.exact import ExactRenderer

    info = sf.info(path_in)
    s = _settings(info.samplerate)

    def source():
        with sf.SoundFile(path_in) as f:
            while True:
                b = f.read(65536, dtype="float32", always_2d=True)
                if not len(b):
                    return
                yield b.T

    t0 = time.perf_counter()
    renderer = ExactRenderer(s, info.samplerate, info.channels)
    with sf.SoundFile(path_out, "w", info.samplerate, info.channels, "PCM_24") as out:
        for block in renderer.blocks(source):
            out.write(block.T)
    dt = time.perf_counter() - t0
    minutes = info.frames / info.samplerate / 60
    print(
        f"exact render, {minutes:.0f} min stereo from disk (streaming, 24-bit out): {dt:.1f} s "
        f"(real-time factor {minutes * 60 / dt:.0f}x), peak RSS {_peak_rss_mb():.0f} MB, "
        f"limiter passes {renderer.report.get('passes')}"
    )


def hour(sr=44100, minutes=60):
    import soundfile as sf

    from signals import music_like

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "hour.wav")
        chunk = music_like(60.0, sr, seed=1, level_db=-20).T
        with sf.SoundFile(src, "w", sr, 2, "PCM_16") as f:
            for _ in range(minutes):
                f.write(chunk)
        subprocess.run([sys.executable, __file__, "--hour-child", src, os.path.join(tmp, "out.wav")], check=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hour", action="store_true", help="also a 60-minute file from disk (peak RSS)")
    ap.add_argument("--hour-child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.hour_child:
        hour_child(*a.hour_child)
    else:
        track()
        differentiable()
        if a.hour:
            hour()
