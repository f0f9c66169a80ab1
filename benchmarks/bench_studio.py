"""The studio's re-render latency on a 30 s region of a 3-minute song, over its HTTP interface.

  python benchmarks/bench_studio.py

Starts `tonematch studio` on a 3-minute mix (the first corpus track of at least 3 minutes under
~/.cache/tonematch-corpus/music, turned down 10 dB; synthetic music when the corpus is absent)
with the example reference, then eight times: PUT the settings with another amount (a change
the server renders) and GET the master region's WAV (what the page fetches before it plays the
change). Prints each wall time and the median. Goal (issue 19): the change audible <= 1 s after
release; the browser's decode and scheduling come on top of this figure.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
CORPUS = os.path.expanduser("~/.cache/tonematch-corpus/music")
BIN = os.path.dirname(sys.executable)
SR = 44100


def song() -> np.ndarray:
    for path in sorted(glob.glob(os.path.join(CORPUS, "*", "*.ogg"))):
        info = sf.info(path)
        if info.duration >= 180 and info.samplerate == SR:
            return sf.read(path, frames=180 * SR, dtype="float32", always_2d=True)[0] * 0.3
    from signals import music_like

    return music_like(180.0, SR, seed=0).T


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    with tempfile.TemporaryDirectory() as folder:  # the 3-minute mix (32 MB) goes with it
        return bench(folder)


def bench(folder: str) -> int:
    sf.write(os.path.join(folder, "mix.wav"), song(), SR)
    reference = os.path.join(HERE, "..", "examples", "reference.flac")
    cmd = [os.path.join(BIN, "tonematch"), "studio", os.path.join(folder, "mix.wav"), "-r", reference]
    cmd += ["--no-browser", "-o", os.path.join(folder, "out.wav")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        found, said = None, []
        while found is None:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("the studio did not start:\n" + "".join(said[-20:]))
            said.append(line)
            found = re.search(r"(http://\S+)/\?token=(\S+)", line)
        base, token = found.group(1), found.group(2)

        def request(method: str, path: str, body: bytes | None = None) -> bytes:
            r = urllib.request.Request(base + path, data=body, method=method, headers={"X-Tonematch-Token": token})
            with urllib.request.urlopen(r, timeout=120) as f:
                return f.read()

        time.sleep(8.0)  # the first whole-file render runs in the background
        settings = request("GET", "/api/settings")
        times = []
        for i in range(8):
            start = time.perf_counter()
            request("PUT", f"/api/settings?amount={1.0 - 0.1 * (i % 3):.1f}", settings)
            request("GET", "/audio/master.wav")
            times.append(time.perf_counter() - start)
            time.sleep(1.5)
        print("30 s region of a 3-minute mix: change + fetch of the master region (s):")
        print("  " + " ".join(f"{t:.2f}" for t in times) + f"; median {np.median(times):.2f} (goal: audible <= 1 s)")
    finally:
        proc.terminate()
        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
