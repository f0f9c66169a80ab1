"""`tonematch studio`'s HTTP interface through Starlette's TestClient: the token and Host checks,
the settings round trip, render's messages for bad settings, loudness-matched preview WAVs, the
region, and an export that is bit for bit `tonematch render` of the exported JSON."""

from __future__ import annotations

import hashlib
import io
import json
import time

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("starlette", reason="the studio extra (Starlette) is not installed")
pytest.importorskip("httpx2", reason="Starlette's TestClient needs httpx2")

from starlette.testclient import TestClient  # noqa: E402

from tonematch.data import audio  # noqa: E402
from tonematch.data.errors import TonematchError  # noqa: E402
from tonematch.inference import match  # noqa: E402
from tonematch.inference.cli import main  # noqa: E402
from tonematch.inference.studio.app import allowed_hosts, create_app  # noqa: E402
from tonematch.inference.studio.session import Studio  # noqa: E402
from tonematch.models.measure.loudness import LoudnessMeter  # noqa: E402

TOKEN = "test-token-123"
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
FAST = match.Options(refine=False)


def _client(studio: Studio) -> TestClient:
    return TestClient(create_app(studio, TOKEN, allowed_hosts("127.0.0.1", PORT)), base_url=BASE)


@pytest.fixture(scope="module")
def studio(tmp_path_factory, example_mix, example_reference):
    out = tmp_path_factory.mktemp("studio") / "mix_mastered.wav"
    s = Studio(example_mix, out, reference=example_reference, options=FAST)
    yield s
    s.close()


@pytest.fixture(scope="module")
def client(studio):
    with _client(studio) as c:
        c.headers["X-Tonematch-Token"] = TOKEN
        yield c


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _lufs(data: bytes) -> tuple[float, str]:
    x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    meter = LoudnessMeter(sr, x.shape[1])
    meter.add(np.ascontiguousarray(x.T))
    return meter.integrated(), sf.info(io.BytesIO(data)).subtype


# -- safety ------------------------------------------------------------------------------------------


def test_every_api_audio_and_page_request_needs_the_token(studio):
    with _client(studio) as c:
        for path in ("/", "/api/settings", "/api/state", "/audio/master.wav", "/api/readouts"):
            assert c.get(path).status_code == 403, path
            assert c.get(path, params={"token": "wrong"}).status_code == 403, path
            assert c.get(path, headers={"X-Tonematch-Token": TOKEN[:-1]}).status_code == 403, path
        assert c.put("/api/settings", json=studio.settings_json()).status_code == 403
        assert c.post("/api/export").status_code == 403
        assert c.get("/api/settings", params={"token": TOKEN}).status_code == 200
        assert c.get("/api/settings", headers={"X-Tonematch-Token": TOKEN}).status_code == 200
        page = c.get("/", params={"token": TOKEN})
        assert page.status_code == 200 and "tonematch studio" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]  # nothing from outside
        assert c.get("/static/studio.js").status_code == 200  # package files, no data: no token


def test_a_foreign_host_header_is_refused(client):
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    for host in ("evil.example", f"evil.example:{PORT}", "127.0.0.1.nip.io", f"192.168.1.2:{PORT}", ""):
        r = client.get("/api/settings", headers={"Host": host})
        assert r.status_code == 403, host
        assert "Host" in r.text
    for host in (f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"[::1]:{PORT}"):
        assert client.get("/api/settings", headers={"Host": host}).status_code == 200, host


def test_outputs_never_overwrite_an_input_and_refuse_existing_files(tmp_path, example_mix, example_reference):
    with pytest.raises(TonematchError, match="never written to"):
        Studio(example_mix, example_reference, reference=example_reference, options=FAST)
    taken = tmp_path / "taken.wav"
    taken.write_bytes(b"x")
    with pytest.raises(TonematchError, match="already exists"):
        Studio(example_mix, taken, reference=example_reference, options=FAST)
    with pytest.raises(TonematchError, match=r"\.wav or \.flac"):
        Studio(example_mix, tmp_path / "out.mp3", reference=example_reference, options=FAST)


# -- settings ----------------------------------------------------------------------------------------


def test_settings_round_trip_and_a_change_re_renders(client, studio):
    before = client.get("/api/settings").json()
    chain = ["gain", "eq", "match", "compressor", "width", "limiter", "loudness"]
    assert [p["processor"] for p in before["chain"]] == chain
    r = client.put("/api/settings", json=before)
    assert r.status_code == 200, r.text
    assert client.get("/api/settings").json()["chain"] == before["chain"]
    first = r.json()["preview"]
    assert set(first) >= {"lufs", "true_peak_dbtp", "crest_db", "width"}

    changed = json.loads(json.dumps(before))
    changed["chain"][1]["high_shelf"] = {"gain_db": 6.0, "freq_hz": 4000.0, "q": 0.707}
    r = client.put("/api/settings", json=changed)
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["serial"] > 0 and after["exact"]  # the example is shorter than the region: exact
    assert after["preview"]["crest_db"] != pytest.approx(first["crest_db"], abs=1e-6)
    assert after["preview"]["true_peak_dbtp"] <= after["metrics"]["master"]["true_peak_dbtp"] + 1e-9
    got = client.get("/api/settings").json()
    assert got["chain"][1]["high_shelf"]["gain_db"] == 6.0
    assert "high shelf +6.0 dB at 4.0 kHz" in after["describe"][0]
    # the readouts follow: the EQ curve has the shelf, the master's balance moved
    ro = client.get("/api/readouts").json()
    assert ro["serial"] == after["serial"]
    assert max(ro["eq"]["db"]) > 5.0
    assert len(ro["tone"]["master"]) == len(ro["tone"]["hz"]) == len(ro["tone"]["reference"])
    gr = ro["gain_reduction"]
    assert min(gr["compressor"]) < -0.5 and min(gr["limiter"]) < -0.5 and max(gr["limiter"]) <= 0.0
    client.put("/api/settings", json=before)


BAD_BODIES = {
    "unknown processor": {"chain": [{"processor": "reverb", "mix": 0.3}]},
    "unknown parameter": {"chain": [{"processor": "compressor", "threshold": -20}]},
    "out of range": {"chain": [{"processor": "eq", "high_shelf": {"gain_db": 30.0}}]},
    "unknown band": {"chain": [{"processor": "eq", "peak9": {"gain_db": 1.0}}]},
    "not a number": {"chain": [{"processor": "width", "width": "wide"}]},
    "not an object": [1, 2, 3],
    "bad enabled": {"chain": [{"processor": "limiter", "enabled": "no"}]},
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_settings_give_400_with_renders_message_and_change_nothing(client, tmp_path, capsys, example_mix, case):
    body = BAD_BODIES[case]
    before = client.get("/api/settings").json()
    r = client.put("/api/settings", json=body)
    assert r.status_code == 400
    message = r.json()["error"]
    params = tmp_path / "bad.json"
    params.write_text(json.dumps(body))
    assert main(["render", str(example_mix), "--params", str(params), "-o", str(tmp_path / "o.wav")]) == 2
    assert capsys.readouterr().err.strip() == f"tonematch: error: settings '{params}': {message}"
    assert client.get("/api/settings").json() == before


def test_bad_json_bodies_and_sizes(client, tmp_path, capsys, example_mix):
    before = client.get("/api/settings").json()
    r = client.put("/api/settings", content=b'{"chain": [', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    params = tmp_path / "bad.json"
    params.write_bytes(b'{"chain": [')
    main(["render", str(example_mix), "--params", str(params), "-o", str(tmp_path / "o.wav")])
    render_says = capsys.readouterr().err.strip().partition("is not valid JSON: ")[2]
    assert r.json()["error"] == f"the request body is not valid JSON: {render_says}"
    assert client.put("/api/settings", content=b"[" * 100000).status_code == 400  # nested too deeply
    huge = b'{"chain": [], "source": {"x": "' + b"a" * 400_000 + b'"}}'
    r = client.put("/api/settings", content=huge)
    assert r.status_code == 413 and "larger than" in r.json()["error"]
    assert client.put("/api/settings", content=b"\xff\xfe").status_code == 400
    # Python's guard against huge integers said "use sys.set_int_max_str_digits()"
    r = client.put("/api/settings", content=b'{"chain": [{"processor": "gain", "gain_db": ' + b"9" * 5000 + b"}]}")
    assert r.status_code == 400 and r.json()["error"].endswith("no setting takes one")
    assert client.get("/api/settings").json() == before


def test_amount_scales_toward_neutral_as_the_command_does(client, studio):
    base = client.get("/api/settings", params={"base": "true"}).json()
    assert client.put("/api/settings", params={"amount": "0.5"}, json=base).status_code == 200
    heard = client.get("/api/settings").json()
    assert client.get("/api/settings", params={"base": "true"}).json()["chain"] == base["chain"]
    expected = match.scaled(studio.parse_settings(base), 0.5)
    assert heard["chain"] == studio.parse_settings(heard).to_dict()["chain"]
    assert studio.parse_settings(heard).values == expected.values
    for bad in ("1.5", "-0.1", "nan", "lots"):
        r = client.put("/api/settings", params={"amount": bad}, json=base)
        assert r.status_code == 400 and "amount" in r.json()["error"]
    client.put("/api/settings", json=base)


# -- audio -------------------------------------------------------------------------------------------


def test_preview_wavs_are_16_bit_and_loudness_matched(client):
    state = client.get("/api/readouts").json()
    level = state["levels"]["match_lufs"]
    assert level <= -14.0
    for which in ("mix", "master", "reference"):
        lufs, subtype = _lufs(client.get(f"/audio/{which}.wav").content)
        assert subtype == "PCM_16"
        assert lufs == pytest.approx(level, abs=0.05), which
        true, _ = _lufs(client.get(f"/audio/{which}.wav", params={"levels": "true"}).content)
        assert true == pytest.approx(state["metrics"][which]["lufs"], abs=0.05), which
    assert client.get("/audio/other.wav").status_code == 404


# -- export ------------------------------------------------------------------------------------------


def test_export_is_bit_identical_to_rendering_its_json(client, studio, example_mix, tmp_path, capsys):
    mix_hash = _sha(example_mix)
    settings = client.get("/api/settings").json()
    r = client.post("/api/export")
    assert r.status_code == 200, r.text
    paths = r.json()
    assert paths["audio"] == str(studio.out_path)
    for key in ("audio", "settings", "report"):
        assert open(paths[key], "rb").read(4), key
    exported = json.loads(open(paths["settings"]).read())
    assert exported["chain"] == settings["chain"]
    assert exported["source"]["reference"] == studio.reference_path.name
    again = tmp_path / "again.wav"
    assert main(["render", str(example_mix), "--params", paths["settings"], "-o", str(again)]) == 0
    capsys.readouterr()
    a, _ = sf.read(paths["audio"], dtype="int32")
    b, _ = sf.read(again, dtype="int32")
    assert np.array_equal(a, b)
    assert _sha(paths["audio"]) == _sha(again)
    assert _sha(example_mix) == mix_hash  # the source is never touched


# -- a song longer than the region: the loudest 30 s, the exact preview, moving the region ----------


@pytest.fixture(scope="module")
def long_studio(tmp_path_factory, example_mix, example_reference):
    folder = tmp_path_factory.mktemp("long")
    x, sr = audio.load(example_mix)
    quiet = x * np.float32(0.25)
    song = np.concatenate([quiet, x, x, quiet], axis=1)  # 48 s, loud from 12 s to 36 s
    path = folder / "song.wav"
    audio.write(path, song, sr, subtype="PCM_16")
    s = Studio(path, folder / "song_out.wav", reference=example_reference, options=FAST)
    yield s
    s.close()


def test_the_region_is_the_loudest_30_s_and_can_move(long_studio):
    s = long_studio
    with _client(s) as c:
        c.headers["X-Tonematch-Token"] = TOKEN
        r = c.get("/api/region").json()
        assert r["length_s"] == pytest.approx(30.0) and r["duration_s"] == pytest.approx(48.0, abs=0.01)
        assert 6.0 <= r["start_s"] <= 12.0  # the loud part inside
        assert s.preview.exact  # at start: cut from a whole-file render
        moved = c.put("/api/region", json={"start_s": 2.0, "length_s": 10.0})
        assert moved.status_code == 200, moved.text
        assert moved.json()["region"] == {"start_s": 2.0, "length_s": 10.0}
        mix = _lufs(c.get("/audio/mix.wav", params={"levels": "true"}).content)[0]
        assert mix == pytest.approx(s.mix_metrics["lufs"], abs=0.05) and mix < -33  # the quiet part
        for bad in ({"start_s": -1}, {"start_s": 50.0}, {"start_s": 1.0, "length_s": 0.5}, {"start_s": "a"}, [1]):
            r = c.put("/api/region", json=bad)
            assert r.status_code == 400, bad
        said = c.put("/api/region", json={"start_s": 0.0, "length_s": True}).json()["error"]
        assert said.endswith("got true"), said  # JSON's spelling: it said Python's "True"
        assert c.get("/api/region").json()["start_s"] == 2.0
        back = c.put("/api/region", json={"start_s": r_start(s), "length_s": 30.0})
        assert back.status_code == 200


def r_start(s: Studio) -> float:
    return s.loudest / s.sample_rate


def test_the_exact_preview_holds_the_samples_render_writes(long_studio, tmp_path, capsys):
    """A change: a quick preview at once, then the whole-file render's region, which is the
    float render of the exported settings, sample for sample."""
    s = long_studio
    base = s.settings_json(base=True)
    base["chain"][1]["high_shelf"] = {"gain_db": -3.0, "freq_hz": 6000.0, "q": 0.707}
    quick = s.set_settings(s.parse_settings(base))
    assert not quick.exact
    deadline = time.monotonic() + 60
    while not (s.preview.exact and s.preview.version == quick.version) and time.monotonic() < deadline:
        time.sleep(0.1)
    exact = s.preview
    assert exact.exact and exact.version == quick.version
    # the quick estimate lands within a hair of it (the gain into the limiter from the whole song)
    assert exact.gain_db == pytest.approx(quick.gain_db, abs=0.05)
    params = tmp_path / "p.json"
    params.write_text(json.dumps(s.settings_json()))
    out = tmp_path / "float.wav"
    assert main(["render", str(s.mix_path), "--params", str(params), "-o", str(out), "--bit-depth", "float"]) == 0
    capsys.readouterr()
    r = s.region
    rendered = audio.read_segment(out, r.start, r.frames)
    assert np.array_equal(rendered, exact.master)


def test_a_style_studio_has_no_reference_audio_and_aims_at_the_styles_target(tmp_path, capsys, example_mix):
    style = tmp_path / "mine.tmstyle"
    refs = str(example_mix.parent / "reference.flac")
    assert main(["style", "from-references", refs, "-o", str(style)]) == 0
    capsys.readouterr()
    s = Studio(example_mix, tmp_path / "out.wav", style=style, options=FAST, background=False)
    try:
        with _client(s) as c:
            c.headers["X-Tonematch-Token"] = TOKEN
            state = c.get("/api/state").json()
            assert state["files"]["style"] == str(style) and state["files"]["reference"] is None
            assert c.get("/audio/reference.wav").status_code == 404
            ro = c.get("/api/readouts").json()
            assert ro["tone"]["reference_label"] == "style target" and len(ro["tone"]["reference"]) > 10
            assert set(ro["levels"]["gain_db"]) == {"mix", "master"}
            assert c.get("/api/settings").json()["source"]["style"] == style.name
    finally:
        s.close()


def test_a_refined_start_says_how_the_reference_was_read(tmp_path, example_mix, example_reference):
    """With refinement on, 'What the chain does' ends with the run's reading of the reference,
    said of the start settings; without refinement there is no reading to give."""
    s = Studio(example_mix, tmp_path / "o.wav", reference=example_reference, options=match.Options(steps=3))
    try:
        with _client(s) as c:
            c.headers["X-Tonematch-Token"] = TOKEN
            lines = c.get("/api/state").json()["describe"]
            read = [line for line in lines if line.startswith("reference, as the start settings read it: ")]
            assert len(read) == 1 and "its mastering reads" in read[0] and "--literal 0.4" in read[0], lines
    finally:
        s.close()
    s = Studio(example_mix, tmp_path / "p.wav", reference=example_reference, options=FAST)
    try:
        assert not any(line.startswith("reference, as") for line in s.preview_json()["describe"])
    finally:
        s.close()
    # a style from references: the network's start, read against the style's masters, said of the style
    style = tmp_path / "refs.tmstyle"
    assert main(["style", "from-references", str(example_reference), "-o", str(style)]) == 0
    s = Studio(example_mix, tmp_path / "q.wav", style=style, options=match.Options(steps=3))
    try:
        lines = s.preview_json()["describe"]
        read = [line for line in lines if line.startswith("style, as the start settings read it: ")]
        assert len(read) == 1 and "its references' average balance reads" in read[0], lines
        assert "the style takes 40 % of the tilt" in read[0] and not any(x.startswith("reference") for x in lines)
    finally:
        s.close()
