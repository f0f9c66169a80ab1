"""`tonematch studio` on the command line, without serving: the studio extra's absence is one
line naming what to install, the target is a reference or a style (one of them), and a port in
use is one error line."""

from __future__ import annotations

import socket
import sys

import pytest

from tonematch.inference.cli import main
from tonematch.inference.studio import command


def test_without_the_studio_extra_it_says_what_to_install(monkeypatch, capsys, example_mix, example_reference):
    monkeypatch.setitem(sys.modules, "starlette", None)  # import starlette -> ImportError
    assert main(["studio", str(example_mix), "-r", str(example_reference), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"tonematch: error: {command.EXTRA_MISSING}"


def test_a_reference_or_a_style_not_both(capsys, example_mix, example_reference):
    with pytest.raises(SystemExit) as e:
        main(["studio", str(example_mix)])
    assert e.value.code == 2 and "--reference" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["studio", str(example_mix), "-r", str(example_reference), "--style", "s.tmstyle"])
    assert e.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_a_port_in_use_is_one_line():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        with pytest.raises(Exception, match=r"cannot listen on 127\.0\.0\.1 port \d+"):
            command.bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()
    free = command.bind("127.0.0.1", 0)
    assert free.getsockname()[0] == "127.0.0.1"
    free.close()


def test_the_url_names_the_loopback_address_and_the_token():
    assert command.url_for("127.0.0.1", 8765, "T") == "http://127.0.0.1:8765/?token=T"
    assert command.url_for("0.0.0.0", 8765, "T") == "http://127.0.0.1:8765/?token=T"
    assert command.url_for("::1", 8765, "T") == "http://[::1]:8765/?token=T"
    assert command._loopback("127.0.0.1") and command._loopback("::1") and command._loopback("localhost")
    assert not command._loopback("0.0.0.0") and not command._loopback("192.168.1.4")


def test_the_package_ships_the_studio_and_its_page():
    """pyproject lists the package and its static files (a built wheel carries the page)."""
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib", reason="tomllib comes with Python 3.11")
    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())
    tools = config["tool"]["setuptools"]
    assert "tonematch.inference.studio" in tools["packages"]
    shipped = {
        p.name for g in tools["package-data"]["tonematch.inference.studio"] for p in (root / "inference/studio").glob(g)
    }
    assert shipped >= {"index.html", "studio.js", "studio.css"}
    extras = config["project"]["optional-dependencies"]
    assert any(d.startswith("starlette") for d in extras["studio"]) and any(
        d.startswith("uvicorn") for d in extras["studio"]
    )
    assert not any(d.startswith(("starlette", "uvicorn")) for d in config["project"]["dependencies"])


def test_the_studio_takes_match_s_literal(example_mix, example_reference):
    from tonematch.inference.cli import build_parser
    from tonematch.inference.cli_match import options_from

    args = build_parser().parse_args(["studio", str(example_mix), "-r", str(example_reference), "--literal", "0.8"])
    assert options_from(args).literal == 0.8
    default = build_parser().parse_args(["studio", str(example_mix), "-r", str(example_reference)])
    assert (
        options_from(default).literal
        == options_from(
            build_parser().parse_args(["match", str(example_mix), "-r", str(example_reference), "-o", "x.wav"])
        ).literal
    )


def test_a_style_studio_refuses_literal_as_master_does(capsys, example_mix, tmp_path):
    """--literal copies a reference; with --style there is none, and `tonematch master` refuses it:
    the studio must not take it and start a session that silently ignores it."""
    out = tmp_path / "o.wav"
    args = ["studio", str(example_mix), "--style", str(tmp_path / "s.tmstyle"), "-o", str(out), "--no-browser"]
    assert main([*args, "--literal", "0.9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tonematch: error: studio: --literal") and "\n" not in err
    assert not out.exists()
    # --model is refused as master refuses it, in the studio's own name
    assert main([*args, "--model", "none"]) == 2
    assert capsys.readouterr().err.startswith("tonematch: error: studio: --model does not apply")
