"""A change the server refuses (400: the settings stay as they were) takes the page back to the
settings the server kept, and out of the history: it used to "go back" to the history's newest
step, which was the refused change itself, so the controls went on showing a value never heard
and every later edit sent it again. Headless Chromium, as test_studio_browser."""

from __future__ import annotations

import json

from test_studio_browser import _until, browser, server  # noqa: F401 - the fixtures


def test_a_refused_change_goes_back_to_what_the_server_kept(browser, server):  # noqa: F811
    url, _, _ = server
    page = browser.new_page(viewport={"width": 1500, "height": 1200})
    page.goto(url)
    _until(page, "document.body.dataset.readouts === '1'")
    field = "input.val[data-key='eq.high_shelf.gain_db']"
    kept = page.input_value(field)
    refused = {"n": 0}

    def refuse_once(route):
        if route.request.method == "PUT" and refused["n"] == 0:
            refused["n"] += 1
            route.fulfill(status=400, content_type="application/json", body=json.dumps({"error": "refused here"}))
        else:
            route.continue_()

    page.route("**/api/settings?*", refuse_once)
    page.fill(field, "9")
    page.press(field, "Enter")
    _until(page, "!document.getElementById('message').hidden")
    _until(page, "!studio.state.inflight && !studio.state.pending")
    assert "refused here" in page.inner_text("#message")
    assert page.input_value(field) == kept
    assert page.evaluate("studio.state.hist.length") == 1 and page.is_disabled("#undo")

    page.fill("input.val[data-key='compressor.ratio']", "3")  # the next edit carries the kept shelf
    page.press("input.val[data-key='compressor.ratio']", "Enter")
    _until(page, "studio.state.hist.length === 2 && !studio.state.inflight && !studio.state.pending")
    token = url.split("token=")[1]
    heard = page.evaluate(
        "(t) => fetch('/api/settings?base=true', {headers: {'X-Tonematch-Token': t}}).then((r) => r.json())", token
    )
    assert page.evaluate("studio.state.settings.chain") == heard["chain"]
    page.close()
