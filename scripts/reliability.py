"""The slow half of the reliability suite (the fast half is tests/test_reliability*.py).

    python scripts/reliability.py            # every case, about 2-4 minutes on 2 cores
    python scripts/reliability.py signals parallel   # some groups only
    python scripts/reliability.py --list

Groups:
  signals      SIGINT and SIGTERM in the middle of a render and of a match: exit 130 / 143, one
               line, no output and no temporary file left, the inputs byte-identical
  parallel     four `match` runs on one output at once: without -f exactly one writes and the
               others are refused (2); with -f all succeed; either way the master and its
               settings belong together (the settings render the master again bit for bit)
  determinism  the same match twice and the same render twice give the same bytes
  ceiling      the true-peak ceiling (16x oversampled) on loud synthetic inputs: full-scale
               squares, near-Nyquist sines, clipped noise, +12 dBFS float overs, DC, clicks
  hostile      model and style files that are pickles, truncated, nested, non-UTF-8, absurd or
               symlink loops: refused in one line, and no payload ever runs
  diskfull     a render into a 1 MB tmpfs (root or user namespaces needed; skipped otherwise):
               one line, the folder left empty

Each case prints PASS / FAIL / SKIP and a reason; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # signals.py: the suite's synthetic music

from signals import music_like, true_peak_db  # noqa: E402

CLI = [sys.executable, "-m", "tonematch.inference.cli"]
SR = 44100
RESULTS: list[tuple[str, str, str]] = []


def record(name: str, ok: bool | None, why: str = "") -> None:
    status = "SKIP" if ok is None else "PASS" if ok else "FAIL"
    RESULTS.append((status, name, why))
    print(f"  {status}  {name}" + (f": {why}" if why else ""), flush=True)


def digest_tree(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def one_line(err: str, prefix: str = "tonematch: error: ") -> bool:
    lines = err.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith(prefix) and "Traceback" not in err


def in_process(*args) -> tuple[int, str, str]:
    from tonematch.inference.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:
            code = e.code
    return code, out.getvalue(), err.getvalue()


def write(path: Path, x: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> Path:
    sf.write(str(path), np.ascontiguousarray(np.atleast_2d(x).T), sr, subtype=subtype)
    return path


# -- signals -------------------------------------------------------------------------------------------


def _wait_for_temp(p: subprocess.Popen, folder: Path, timeout: float = 180.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            return False
        if any(".tmp-" in n for n in os.listdir(folder)):
            return True
        time.sleep(0.01)
    return False


def case_signals(tmp: Path) -> None:
    src = tmp / "src"
    src.mkdir()
    long_mix = write(src / "long.wav", np.tile(music_like(10.0, SR, seed=5), (1, 24)))  # 4 minutes
    ref = write(src / "ref.wav", music_like(8.0, SR, seed=6, level_db=-12.0))
    settings = REPO / "examples" / "settings.json"
    before = digest_tree(src)
    for command in ("render", "match"):
        for sig, code, word in ((signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")):
            out = tmp / f"out-{command}-{sig.name}"
            out.mkdir()
            if command == "render":
                args = ["render", long_mix, "--params", settings, "-o", out / "m.wav"]
            else:
                args = ["match", long_mix, "-r", ref, "-o", out / "m.wav", "--no-refine"]
            p = subprocess.Popen([*CLI, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            name = f"{sig.name} mid-{command}"
            if not _wait_for_temp(p, out):
                p.kill()
                record(name, False, "the run never started writing: " + p.communicate()[1][-300:])
                continue
            p.send_signal(sig)
            _, err = p.communicate(timeout=120)
            ok = p.returncode == code and err.strip().splitlines() == [f"tonematch: {word}"]
            ok = ok and os.listdir(out) == [] and digest_tree(src) == before
            record(name, ok, f"exit {p.returncode}, left {os.listdir(out)}, stderr {err.strip()[-200:]!r}")


# -- parallel runs on one output ------------------------------------------------------------------------


def case_parallel(tmp: Path) -> None:
    mix = write(tmp / "mix.wav", music_like(20.0, SR, seed=7))
    ref = write(tmp / "ref.wav", music_like(8.0, SR, seed=8, level_db=-12.0))
    for force in (False, True):
        out = tmp / ("forced" if force else "plain")
        out.mkdir()
        cmd = [*CLI, "match", str(mix), "-r", str(ref), "-o", str(out / "m.wav"), "--no-refine"] + (
            ["-f"] if force else []
        )
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [(p.wait(timeout=600), p.communicate()[1]) for p in procs]
        codes = sorted(c for c, _ in results)
        refusals = [e for c, e in results if c == 2]
        if force:
            ok = codes == [0, 0, 0, 0]
        else:
            ok = codes == [0, 2, 2, 2] and all(one_line(e) and "already exists" in e for e in refusals)
        left = sorted(os.listdir(out))
        ok = ok and left == ["m.json", "m.wav"]
        again = tmp / f"again-{force}.wav"
        code, _, err = in_process("render", mix, "--params", out / "m.json", "-o", again)
        ok = ok and code == 0 and again.read_bytes() == (out / "m.wav").read_bytes()
        record(f"4 parallel runs on one output{' with -f' if force else ''}", ok, f"exits {codes}, left {left}")


# -- determinism -----------------------------------------------------------------------------------------


def case_determinism(tmp: Path) -> None:
    mix = write(tmp / "mix.wav", music_like(6.0, SR, seed=9), subtype="FLOAT")
    ref = write(tmp / "ref.wav", music_like(6.0, SR, seed=10, level_db=-10.0))
    digests = []
    for i in range(2):
        code, _, err = in_process("match", mix, "-r", ref, "-o", tmp / f"m{i}.wav", "--steps", "10")
        digests.append(((tmp / f"m{i}.wav").read_bytes(), code))
    same = digests[0] == digests[1] and digests[0][1] == 0
    a, b = (json.loads((tmp / f"m{i}.json").read_text()) for i in range(2))
    record("match twice: the same master, bit for bit", same and a["chain"] == b["chain"])
    for i in range(2):
        in_process("render", mix, "--params", tmp / "m0.json", "-o", tmp / f"r{i}.wav", "--bit-depth", "float")
        if i == 0:
            time.sleep(1.1)  # a PEAK chunk would carry the second it was written
    record("render twice (float WAV): the same bytes", (tmp / "r0.wav").read_bytes() == (tmp / "r1.wav").read_bytes())


# -- ceiling under loud inputs -------------------------------------------------------------------------------


def loud_signals(seconds: float = 4.0) -> dict[str, tuple[np.ndarray, str]]:
    n = int(seconds * SR)
    t = np.arange(n) / SR
    rng = np.random.default_rng(11)
    square = np.sign(np.sin(2 * np.pi * 110 * t))
    out = {
        "full-scale square": (np.stack([square, square]), "PCM_16"),
        "near-Nyquist sine 0 dBFS": (np.stack([np.sin(2 * np.pi * 21000 * t)] * 2), "PCM_24"),
        "quarter-rate sine, 45 deg (intersample overs)": (
            np.stack([np.sin(np.pi / 2 * np.arange(n) + np.pi / 4)] * 2) / np.sin(np.pi / 4) * 0.99,
            "FLOAT",
        ),
        "clipped noise": (np.clip(rng.standard_normal((2, n)) * 2.0, -1, 1), "PCM_16"),
        "+12 dBFS float overs": (4.0 * music_like(seconds, SR, seed=12, level_db=-6.0), "FLOAT"),
        "DC offset + music": (0.5 + 0.4 * music_like(seconds, SR, seed=13, level_db=-12.0), "FLOAT"),
        "click train": (np.stack([(np.arange(n) % 4410 == 0).astype(float)] * 2) * 0.99, "PCM_24"),
        "alternating +-1 (Nyquist)": (np.stack([np.where(np.arange(n) % 2, 1.0, -1.0)] * 2) * 0.999, "PCM_16"),
        "out-of-phase channels": (np.stack([square, -square]) * 0.99, "PCM_16"),
        "mono full-scale chirp": (np.sin(2 * np.pi * (20 + 10000 * t / seconds) * t)[None] * 0.999, "PCM_24"),
    }
    return {k: (v.astype(np.float32), st) for k, (v, st) in out.items()}


def case_ceiling(tmp: Path) -> None:
    ref = write(tmp / "ref.wav", music_like(6.0, SR, seed=14, level_db=-8.0))
    for i, (name, (x, subtype)) in enumerate(loud_signals().items()):
        mix = write(tmp / f"loud{i}.wav", x, subtype=subtype)
        for ceiling in (None, -0.1):
            out = tmp / f"o{i}{'' if ceiling is None else 'c'}.wav"
            args = ["match", mix, "-r", ref, "-o", out, "--no-refine", "--target-lufs", "-7"]
            args += [] if ceiling is None else ["--ceiling", str(ceiling)]
            code, _, err = in_process(*args)
            if code != 0:
                record(f"ceiling: {name}", False, f"exit {code}: {err.strip()[-200:]}")
                continue
            y, _ = sf.read(str(out), dtype="float32", always_2d=True)
            limit = json.loads(out.with_suffix(".json").read_text())
            limit = {p["processor"]: p for p in limit["chain"]}["limiter"]["ceiling_dbtp"]
            tp = true_peak_db(y.T, 16)
            warnings = [line for line in err.splitlines() if "Warning" in line or "Traceback" in line]
            ok = tp <= limit + 0.05 and not warnings and np.isfinite(y).all()
            record(f"ceiling {limit:+.1f} dBTP: {name}", ok, f"true peak {tp:+.2f} dBTP")


# -- hostile model and style files ------------------------------------------------------------------------------


class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def case_hostile(tmp: Path) -> None:
    from safetensors.numpy import save_file

    from tonematch.models.files import DEFAULT_MODEL

    mix = write(tmp / "mix.wav", music_like(3.0, SR, seed=15))
    marker = str(tmp / "PAYLOAD_RAN")
    pickled = pickle.dumps({"weights": _Payload(marker)})
    card = (Path(str(DEFAULT_MODEL) + ".json")).read_text()
    shipped = Path(str(DEFAULT_MODEL) + ".safetensors").read_bytes()

    def model(name: str, tensors: bytes | None = None, card_bytes: bytes | None = None) -> Path:
        stem = tmp / name
        Path(str(stem) + ".safetensors").write_bytes(tensors if tensors is not None else shipped)
        Path(str(stem) + ".json").write_bytes(card_bytes if card_bytes is not None else card.encode())
        return stem

    header_len = int.from_bytes(shipped[:8], "little")
    models = {
        "model: a pickle named .safetensors": model("pickle", pickled),
        "model: truncated to half": model("half", shipped[: len(shipped) // 2]),
        "model: header length of 2^62": model("hugeheader", (2**62).to_bytes(8, "little") + shipped[8:]),
        "model: header that is not JSON": model(
            "badheader", shipped[:8] + b"\xff" * header_len + shipped[8 + header_len :]
        ),
        "model: card nested 100000 deep": model("nested", None, b"[" * 100000 + b"]" * 100000),
        "model: card not UTF-8": model("latin", None, b'{"format": "tonematch-model", "n\xe4me": 1}'),
        "model: card with NaN": model(
            "nan", None, card.replace('"format_version": 1,', '"format_version": 1, "x": NaN,').encode()
        ),
        "model: empty files": model("empty", b"", b""),
    }
    for name, stem in models.items():
        code, _, err = in_process("match", mix, "-r", mix, "-o", tmp / "o.wav", "--model", stem, "--no-refine")
        ok = code == 2 and one_line(err) and not os.path.exists(marker) and not (tmp / "o.wav").exists()
        record(name, ok, err.strip()[:160])

    styles = {
        "style: a pickle named .tmstyle": pickled,
        "style: a zip": b"PK\x03\x04" + b"\x00" * 100,
        "style: 8 bytes": b"\x08\x00\x00\x00\x00\x00\x00\x00",
    }
    for name, data in styles.items():
        path = tmp / f"{abs(hash(name))}.tmstyle"
        path.write_bytes(data)
        styles[name] = path
    loop = tmp / "loop.tmstyle"
    os.symlink(loop, loop)
    styles["style: a symlink loop"] = loop
    arrays = {k: np.ones(7) for k in ("bump_hz", "tone_a", "tone_c")}
    arrays.update(width_a=np.ones(4), width_c=np.ones(4), scalar_a=np.ones(3), scalar_c=np.ones(3))
    foreign = tmp / "foreign.tmstyle"
    save_file(arrays, str(foreign), metadata={"format": "tonematch-style", "format_version": "2", "card": "{}"})
    styles["style: right format, wrong base and checksum"] = foreign
    for name, path in styles.items():
        code, _, err = in_process("style", "show", path)
        ok = code == 2 and one_line(err) and not os.path.exists(marker)
        record(name, ok, err.strip()[:160])


# -- a full disk -------------------------------------------------------------------------------------------------


def case_diskfull(tmp: Path) -> None:
    mount = tmp / "small"
    mount.mkdir()
    src = write(tmp / "src.wav", music_like(20.0, SR, seed=16))  # 20 s: 3.4 MB of 16-bit output
    settings = REPO / "examples" / "settings.json"
    inner = f"{' '.join(CLI)} render {src} --params {settings} -o {mount}/o.wav; echo rc=$? >&2; ls -A {mount} >&2"
    mounted = None
    for how in (["sh", "-c"], ["unshare", "-rm", "sh", "-c"]):
        if shutil.which(how[0]) is None:
            continue
        script = f"mount -t tmpfs -o size=1m tmpfs {mount} && {inner}"
        p = subprocess.run([*how, script], capture_output=True, text=True, timeout=300)
        if "rc=" in p.stderr:
            mounted = p
            break
    if mounted is None:
        record("full disk (1 MB tmpfs)", None, "cannot mount a tmpfs here (needs root or user namespaces)")
        return
    err = mounted.stderr
    lines = [line for line in err.splitlines() if not line.startswith(("rc=",))]
    rc = int(err.split("rc=")[1].split()[0])
    left = err.split("rc=")[1].splitlines()[1:]
    ok = rc == 2 and len(lines) == 1 and lines[0].startswith("tonematch: error: ") and left == []
    record("full disk (1 MB tmpfs)", ok, f"exit {rc}, {lines[:1]}, left {left}")
    with contextlib.suppress(Exception):
        subprocess.run(["umount", str(mount)], capture_output=True)


GROUPS = {
    "signals": case_signals,
    "parallel": case_parallel,
    "determinism": case_determinism,
    "ceiling": case_ceiling,
    "hostile": case_hostile,
    "diskfull": case_diskfull,
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("groups", nargs="*", metavar="GROUP", help=f"groups to run (default: all): {', '.join(GROUPS)}")
    p.add_argument("--list", action="store_true")
    args = p.parse_args(argv)
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        p.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    if args.list:
        print("\n".join(GROUPS))
        return 0
    start = time.perf_counter()
    for name in args.groups or list(GROUPS):
        print(f"{name}:", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"tonematch-{name}-") as tmp:
            try:
                GROUPS[name](Path(tmp))
            except Exception as exc:  # noqa: BLE001 - a broken case is a failed case, the others run
                record(f"{name} (the case itself)", False, f"{type(exc).__name__}: {exc}")
    failed = [r for r in RESULTS if r[0] == "FAIL"]
    counts = {s: sum(r[0] == s for r in RESULTS) for s in ("PASS", "FAIL", "SKIP")}
    took = time.perf_counter() - start
    print(f"\n{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped in {took:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
