"""The studio's HTTP interface: a small Starlette app over one `Studio` session (JSON in and out).

    GET  /                      the page (static files under /static, shipped in the package)
    GET  /api/state             everything the page needs at load: files, parameter table,
                                settings (base, before the amount), amount, region, overview
    GET  /api/settings          the settings being heard, in the render format (`?base=true`:
                                before the amount)
    PUT  /api/settings          replace them (render format; `?amount=0..1` scales them toward
                                neutral as --amount does, default 1): 400 with the message
                                `tonematch render` prints for a bad file; re-renders the preview
    POST /api/reset             back to the settings the studio started with
    GET  /api/readouts          tonal balance, EQ curve, gain reduction and meters of the preview
    GET  /api/status            which preview is current, and whether it is the exact one yet
    GET  /api/region            the previewed region; PUT {"start_s", "length_s"} moves it
    POST /api/eq-curve          the EQ curve of a settings body, without rendering (live drags)
    POST /api/export            render the whole file to the output given at start
    GET  /audio/{mix,master,reference}.wav   the region, 16-bit, loudness-matched unless
                                ?levels=true

Safety: every request must name a Host that is the loopback address or name served (DNS
rebinding); every /api and /audio request and the page must carry the session token as `token`
query parameter or `X-Tonematch-Token` header (403 otherwise). No request names a file: the
studio reads only the files given on its command line and writes only the output given there.
Request bodies are limited to BODY_LIMIT bytes; a bad body changes nothing.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import traceback
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tonematch.data.errors import TonematchError

from .session import BODY_LIMIT, Studio

STATIC = Path(__file__).with_name("static")
TOKEN_HEADER = "x-tonematch-token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def allowed_hosts(host: str, port: int) -> set[str]:
    """The Host headers a browser sends for this server: the loopback names, and the address
    served when it is not a wildcard; each with and without the port."""
    names = set(LOOPBACK_NAMES)
    if host not in ("0.0.0.0", "::", ""):
        names.add(f"[{host}]" if ":" in host else host)
    return {n for name in names for n in (name, f"{name}:{port}")}


def _ip_literal(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class Guard:
    """ASGI middleware: the Host check, the token check, the security headers."""

    def __init__(self, app, token: str, hosts: set[str], any_ip: bool = False):
        self.app, self.token, self.hosts, self.any_ip = app, token, {h.lower() for h in hosts}, any_ip

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").strip().lower()
        if host not in self.hosts and not (self.any_ip and _ip_literal(host)):
            response = PlainTextResponse(
                f"refused: Host '{host}' is not this studio's address (open the URL it printed)", 403
            )
            return await response(scope, receive, send)
        path = scope["path"]
        if not path.startswith("/static/") and path != "/favicon.ico":
            from urllib.parse import parse_qs

            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = headers.get(TOKEN_HEADER) or (query.get("token") or [""])[0]
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                response = PlainTextResponse(
                    "refused: this request lacks the studio's token (open the URL `tonematch studio` printed)", 403
                )
                return await response(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in _HEADERS.items()]
                if path == "/":
                    extra.append((b"content-security-policy", _CSP.encode()))
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


async def read_json(request: Request):
    """The body as JSON, at most BODY_LIMIT bytes; BadRequest with render's words otherwise."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > BODY_LIMIT):
        raise BadRequest(f"the request body is larger than {BODY_LIMIT // 1024} KiB", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            raise BadRequest(f"the request body is larger than {BODY_LIMIT // 1024} KiB", 413)
    try:
        return json.loads(bytes(body))
    except RecursionError:
        raise BadRequest("the request body is not a settings file: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        if "integer string conversion" in str(exc):  # Python's guard against huge integers, not the user's words
            raise BadRequest("the request body holds an integer of thousands of digits: no setting takes one") from None
        raise BadRequest(f"the request body is not valid JSON: {' '.join(str(exc).split())}") from None


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


def _amount(request: Request) -> float:
    text = request.query_params.get("amount")
    if text is None:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"amount must be a number from 0 to 1, got {text!r}") from None
    return Studio.check_amount(value)


def create_app(studio: Studio, token: str, hosts: set[str], any_ip: bool = False, debug: bool = False):
    """The ASGI app for `studio`, guarded by `token` and the Host names in `hosts`."""

    def guarded(handler):
        async def endpoint(request: Request):
            try:
                return await handler(request)
            except BadRequest as exc:
                return JSONResponse({"error": str(exc)}, exc.status)
            except TonematchError as exc:
                return JSONResponse({"error": str(exc)}, 400)
            except Exception as exc:  # noqa: BLE001 - one bad request never stops the studio
                if debug:
                    traceback.print_exc()
                return JSONResponse({"error": f"internal error ({type(exc).__name__}: {exc})"}, 500)

        return endpoint

    async def page(request: Request):
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    async def state(request: Request):
        return JSONResponse(await run_in_threadpool(studio.page_state))

    async def get_settings(request: Request):
        return JSONResponse(studio.settings_json(base=_flag(request, "base")))

    async def put_settings(request: Request):
        amount = _amount(request)
        body = await read_json(request)
        settings = studio.parse_settings(body)  # TonematchError -> 400, nothing changed
        preview = await run_in_threadpool(studio.set_settings, settings, amount)
        return JSONResponse(studio.preview_json(preview))

    async def reset(request: Request):
        return JSONResponse(studio.preview_json(await run_in_threadpool(studio.reset)))

    async def readouts(request: Request):
        return JSONResponse(await run_in_threadpool(studio.readouts))

    async def status(request: Request):
        return JSONResponse(studio.status())

    async def get_region(request: Request):
        r = studio.region.seconds(studio.sample_rate)
        return JSONResponse(
            {
                **r,
                "duration_s": studio.frames / studio.sample_rate,
                "loudest_start_s": studio.loudest / studio.sample_rate,
            }
        )

    async def put_region(request: Request):
        body = await read_json(request)
        if not isinstance(body, dict) or set(body) - {"start_s", "length_s"} or "start_s" not in body:
            raise BadRequest('region: the body must be {"start_s": seconds, "length_s": seconds}')
        length = body.get("length_s", studio.region.frames / studio.sample_rate)
        preview = await run_in_threadpool(studio.set_region, body["start_s"], length)
        return JSONResponse(studio.preview_json(preview))

    async def eq(request: Request):
        amount = _amount(request)
        settings = studio.parse_settings(await read_json(request))
        from tonematch.inference.match import scaled

        from .readouts import eq_curve

        s, _ = scaled(settings, amount).at_rate(studio.sample_rate)
        return JSONResponse(eq_curve(s))

    async def export(request: Request):
        return JSONResponse(await run_in_threadpool(studio.export))

    async def wav(request: Request):
        which = request.path_params["name"]
        if which not in ("mix", "master", "reference"):
            return JSONResponse({"error": f"no audio named '{which}' (mix, master, reference)"}, 404)
        if which == "reference" and studio.reference is None:
            return JSONResponse({"error": "this studio masters to a style: there is no reference audio"}, 404)
        data = await run_in_threadpool(studio.wav, which, _flag(request, "levels"))
        return Response(data, media_type="audio/wav")

    routes = [
        Route("/", guarded(page)),
        Route("/api/state", guarded(state)),
        Route("/api/settings", guarded(get_settings), methods=["GET"]),
        Route("/api/settings", guarded(put_settings), methods=["PUT"]),
        Route("/api/reset", guarded(reset), methods=["POST"]),
        Route("/api/readouts", guarded(readouts)),
        Route("/api/status", guarded(status)),
        Route("/api/region", guarded(get_region), methods=["GET"]),
        Route("/api/region", guarded(put_region), methods=["PUT"]),
        Route("/api/eq-curve", guarded(eq), methods=["POST"]),
        Route("/api/export", guarded(export), methods=["POST"]),
        Route("/audio/{name}.wav", guarded(wav)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(debug=False, routes=routes)
    return Guard(app, token, hosts, any_ip)
