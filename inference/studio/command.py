"""`tonematch studio MIX (--reference REF | --style S.tmstyle)`: parse, master, serve.

The verb is registered by inference/cli.py (`add_studio_parser`); nothing here imports Starlette
or uvicorn until the command runs, so the core install, without the `studio` extra, still starts
and says what to install when the verb is used.
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import socket
import sys
import threading

from tonematch.data.errors import TonematchError

EXTRA_MISSING = "tonematch studio needs the studio extra (Starlette and uvicorn): pip install 'tonematch[studio]'"


def _groups(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_studio_parser(sub, common) -> None:
    from ..cli_match import add_literal_option

    p = sub.add_parser(
        "studio",
        parents=[common],
        help="listen to the master beside the mix and the reference, tweak it, export it",
        description="Master MIX as `match` (with --reference) or `master` (with --style) would, then serve a "
        "local page to hear mix, master and reference loudness-matched at the same position, change every "
        "setting of the chain and hear it, and export the whole file exactly as `tonematch render` renders it "
        "(OUT.wav, OUT.json, OUT.png). It listens on 127.0.0.1 only, with a fresh token in the printed URL.",
    )
    p.add_argument("mix", metavar="MIX", help="the mix")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--reference", "-r", metavar="REF", help="a reference track to match")
    target.add_argument("--style", metavar="S.tmstyle", help="a style to master in (tonematch style fit)")
    p.add_argument(
        "-o", "--output", metavar="OUT", help="where export writes (.wav or .flac; default MIX_mastered.wav beside MIX)"
    )
    p.add_argument("--port", type=int, default=0, metavar="N", help="port to listen on (default: a free one)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="H",
        help="address to listen on (default 127.0.0.1; anything else is reachable by others: a warning)",
    )
    p.add_argument("--no-browser", action="store_true", help="print the URL only; do not open a browser")
    p.add_argument("--no-refine", action="store_true", help="start from the network's settings as they are (faster)")
    p.add_argument("--steps", type=int, metavar="N", help="refinement iterations (default 8)")
    p.add_argument("--amount", type=float, default=1.0, metavar="0..1", help="the amount control's start (default 1)")
    add_literal_option(p)
    p.add_argument("--only", type=_groups, metavar="GROUPS", help="comma list of eq,dynamics,width,loudness to use")
    p.add_argument("--skip", type=_groups, default=(), metavar="GROUPS", help="comma list of groups to leave off")
    p.add_argument(
        "--target-lufs", type=float, metavar="LUFS", help="loudness target (default: the reference's, or the style's)"
    )
    p.add_argument("--platform", metavar="NAME", help="a streaming target (loudness and ceiling)")
    p.add_argument(
        "--ceiling",
        type=float,
        metavar="DBTP",
        help="true-peak ceiling (default -1.0, or the reference's peak where it is lower, not under -6.0; "
        "with --style, the style's)",
    )
    p.add_argument(
        "--model",
        metavar="STEM",
        help="model files STEM.safetensors + STEM.json (default: the shipped model; 'none': the matcher)",
    )
    p.add_argument(
        "-f",
        "--overwrite",
        action="store_true",
        help="let export replace existing outputs (OUT.wav, OUT.json, OUT.png); without it they are refused",
    )
    p.set_defaults(func=cmd_studio, parser=p)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (so the URL printed is already served), or one error line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise TonematchError(f"studio: cannot listen on '{host}': {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise TonematchError(f"studio: cannot listen on {host} port {port}: {exc.strerror}") from None
    return sock


def url_for(host: str, port: int, token: str) -> str:
    if host in ("0.0.0.0", "::", "", "localhost"):
        host = "127.0.0.1"
    name = f"[{host}]" if ":" in host else host
    return f"http://{name}:{port}/?token={token}"


def cmd_studio(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        raise TonematchError(EXTRA_MISSING) from None
    from ..cli_match import conflicts, list_platforms, options_from
    from ..console import warn

    if args.platform == "list":
        print(list_platforms())
        return 0
    options = options_from(args)
    for note in conflicts(options, literal_given=args.literal is not None):
        warn(note)
    if args.model is not None and args.style is not None:
        from ..cli_style import MODEL_UNUSED

        raise TonematchError(f"studio: {MODEL_UNUSED}")
    if args.literal is not None and args.style is not None:  # as `tonematch master`, which has no --literal
        raise TonematchError(
            "studio: --literal applies to a reference (-r): a style of pairs copies nothing, one from "
            "references a fixed share of its masters' balance"
        )
    if not _loopback(args.host):
        warn(
            f"studio: listening on {args.host}, not on 127.0.0.1 only: anyone who can reach this machine and has "
            "the URL's token can hear the files and change the settings"
        )
    if not 0 <= args.port <= 65535:
        raise TonematchError(f"studio: --port must lie in 0..65535, got {args.port}")
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    try:
        from .app import allowed_hosts, create_app
        from .session import Studio

        studio = Studio(
            args.mix,
            args.output,
            reference=args.reference,
            style=args.style,
            options=options,
            overwrite=args.overwrite,
            warn=warn,
            say=lambda text: print(f"  {text}", flush=True),
        )
    except BaseException:
        sock.close()
        raise
    try:
        token = secrets.token_urlsafe(24)
        wildcard = args.host in ("0.0.0.0", "::")
        app = create_app(studio, token, allowed_hosts(args.host, port), any_ip=wildcard, debug=args.verbose)
        url = url_for(args.host, port, token)
        out = studio.outputs()
        print(f"tonematch studio: {args.mix} -> {out['audio']} (export also writes {out['settings']}, {out['report']})")
        print(f"  open {url}")
        print("  Ctrl-C stops the studio", flush=True)
        if not args.no_browser:
            import webbrowser

            threading.Timer(0.2, webbrowser.open, args=(url,)).start()
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        studio.close()
        sock.close()
    print("tonematch studio: stopped", file=sys.stderr)
    return 0
