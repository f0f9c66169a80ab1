"""Two tabs on one studio: a change made in one (a setting, the region) reaches the other's
controls, meters and audio, so that no tab shows one chain while it plays another's (and a later
edit there no longer puts back the settings it showed). Headless Chromium, as test_studio_browser."""

from __future__ import annotations

from test_studio_browser import _until, browser, server  # noqa: F401 - the fixtures


def _ready(page, url):
    page.goto(url)
    _until(page, "document.body.dataset.ready === '1'")
    _until(page, "document.body.dataset.readouts === '1'")


def test_a_change_in_one_tab_reaches_the_other(browser, server):  # noqa: F811
    url, _, _ = server
    context = browser.new_context(viewport={"width": 1500, "height": 1200})
    a, b = context.new_page(), context.new_page()
    problems: list[str] = []
    for page in (a, b):
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        _ready(page, url)
    field = "input.val[data-key='eq.high_shelf.gain_db']"
    assert b.input_value(field) != "+9.0 dB"
    a.fill(field, "9")
    a.press(field, "Enter")
    _until(a, "studio.state.hist.length === 2 && !studio.state.inflight && !studio.state.pending")
    _until(b, f"document.querySelector({field!r}).value === '+9.0 dB'", timeout=10)
    _until(b, "document.getElementById('describe').textContent.includes('high shelf +9.0 dB')", timeout=10)
    assert b.evaluate("studio.state.hist.length") == 2  # its undo goes back to what it showed before

    a.select_option("#regionlen", "10")  # the region: the other tab plays the same 10 s
    _until(b, "Math.abs(studio.player.duration - 10) < 0.01", timeout=10)
    assert b.input_value("#regionlen") == "10"
    context.close()
    assert not problems, "\n".join(problems)
