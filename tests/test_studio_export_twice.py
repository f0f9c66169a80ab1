"""Two exports asked at once (a double click, or two tabs on one studio): the second waits for the
first and replaces the session's own files, as a second export does, instead of being refused
as if someone else had written them."""

from __future__ import annotations

import threading
import time

from tonematch.data.concurrency import ENGINE
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
