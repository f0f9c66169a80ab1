"""Exporting again: a second export asked while the first runs (a double click, two tabs) waits
for it and replaces the session's own files; a file put over them since is not the session's."""

from __future__ import annotations

import threading
import time

import pytest

from tonematch.data.concurrency import ENGINE
from tonematch.data.errors import TonematchError
from tonematch.inference import match
from tonematch.inference.studio.session import Studio


def test_a_second_export_while_the_first_runs_replaces_it(tmp_path, example_mix, example_reference):
    out = tmp_path / "master.wav"
    s = Studio(example_mix, out, reference=example_reference, options=match.Options(refine=False), background=False)
    results: list = []

    def export():
        try:
            results.append(s.export())
        except Exception as exc:  # noqa: BLE001 - the test reports it
            results.append(exc)

    try:
        with ENGINE:  # both requests arrive while the engine is busy (the first export's render)
            threads = [threading.Thread(target=export) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(0.5)
        for t in threads:
            t.join(timeout=120)
    finally:
        s.close()
    assert len(results) == 2
    for r in results:
        assert isinstance(r, dict), r
    assert out.is_file() and out.with_suffix(".json").is_file() and out.with_suffix(".png").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.json", "master.png", "master.wav"]


def test_a_file_put_there_after_an_export_is_not_replaced_without_overwrite(tmp_path, example_mix, example_reference):
    """After an export, a file written over one of its outputs (a hand-edited JSON, another master)
    is no longer the session's own: the next export refuses it, as it refuses one there at start."""
    out = tmp_path / "master.wav"
    s = Studio(example_mix, out, reference=example_reference, options=match.Options(refine=False), background=False)
    try:
        s.export()
        s.export()  # its own files: replaced
        mine = out.with_suffix(".json")
        mine.write_text('{"mine": true}')
        with pytest.raises(TonematchError, match="already exists"):
            s.export()
        assert mine.read_text() == '{"mine": true}'
    finally:
        s.close()
