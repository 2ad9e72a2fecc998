"""The web service as an ASGI application (Starlette): a JSON API and one page, over one loaded model.

    GET  /                 the page: drop or pick images, see each one's answer
    GET  /api/health       {"status": "ok", "waiting", "answered_images"}
    GET  /api/run          the run: method, sources, resolution, calibration and open-set rule, limits
    POST /api/attribute    images as multipart/form-data (any field names, one file each), or one image as
                           the body (Content-Type image/...); query: open_set=true|false, policy=tiles|crop|
                           resize, upsample_small=true, response=true (visNet's fingerprint response)

Every error is ``{"error": "one line"}`` with its status: 400 a malformed request, 408 a body not sent
within ``read_timeout_s``, 413 over a limit of bytes or images, 415 a body that is neither, 422 no upload
could be attributed (each upload's own line is in ``images``), 503 too many requests waiting (with
Retry-After). A request with several images answers
200 with an ``error`` in place of each upload that failed, as ``gfp attribute`` skips a bad file.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from importlib import resources

from starlette.applications import Starlette
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from gfcore import __version__
from gfcore.data.tiling import ATTRIBUTION_POLICIES as POLICIES
from gfcore.errors import GfpError
from gfcore.inference.openset import describe_rule, open_set_choice
from gfcore.service.limits import RequestTooLarge, ServiceLimits, bounded_body
from gfcore.service.queue import InferenceQueue, Options
from gfcore.service.response import has_image_fingerprints

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class BadRequest(Exception):
    def __init__(self, status: int, line: str):
        super().__init__(line)
        self.status = status


def error(status: int, line: str, **headers) -> JSONResponse:
    return JSONResponse({"error": line}, status_code=status, headers=headers or None)


class Service:
    """The routes' handlers over one model, its limits and its queue."""

    def __init__(self, model, limits: ServiceLimits):
        self.model, self.limits = model, limits
        self.queue = InferenceQueue(model, limits)
        self.responses = has_image_fingerprints(model)
        self.page = resources.files("gfcore.service").joinpath("page.html").read_text(encoding="utf-8")

    def describe(self) -> dict:
        """What ``GET /api/run`` answers (and ``gfp serve --json`` prints)."""
        model, rule = self.model, self.model.calibration["open_set"]
        return {
            "run": model.where,
            "method": model.method,
            "classes": model.classes,
            "resolution": model.resolution,
            "calibration": {
                "temperature": model.calibration["temperature"],
                "note": model.calibration["note"],
                "open_set": rule,
                "rule": describe_rule(rule) if rule else "closed set: no threshold stored",
            },
            "fingerprint_response": self.responses,
            "policies": list(POLICIES),
            "limits": self.limits.as_dict(),
            "version": __version__,
        }

    async def index(self, request: Request):
        return HTMLResponse(self.page)

    async def health(self, request: Request):
        queue = self.queue
        return JSONResponse(
            {"status": "ok", "waiting": queue.admitted, "answered_images": queue.answered_images}
        )

    async def run(self, request: Request):
        return JSONResponse(self.describe())

    async def attribute(self, request: Request):
        model, limits, queue = self.model, self.limits, self.queue
        try:
            options = _options(request.query_params, self.responses, model.method)
            open_set = open_set_choice(model.calibration, options.open_set, model.where)
        except (BadRequest, GfpError) as exc:
            return error(getattr(exc, "status", 400), str(exc))
        if not queue.try_admit():
            busy = f"busy: {limits.max_waiting} requests already waiting; retry shortly"
            return error(503, busy, **{"Retry-After": "1"})
        try:
            uploads = await asyncio.wait_for(_uploads(request, limits), limits.read_timeout_s)
            entries = await queue.submit(uploads, options)
        except BadRequest as exc:
            return error(exc.status, str(exc))
        except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
            return error(408, f"request body not received within {limits.read_timeout_s} s")
        finally:
            queue.release()
        body = {
            "images": entries,
            "open_set": {"applied": open_set, "rule": model.calibration["open_set"] if open_set else None},
            "policy": {"name": options.policy, "upsample_small": options.upsample_small},
        }
        if all("error" in e for e in entries):
            body["error"] = entries[0]["error"] if len(entries) == 1 else "no upload could be attributed"
            return JSONResponse(body, status_code=422)
        return JSONResponse(body)


def create_app(model, limits: ServiceLimits | None = None) -> Starlette:
    """The service for a loaded :class:`~gfcore.inference.model.Model` (``gfp.load``)."""
    service = Service(model, limits or ServiceLimits())

    @asynccontextmanager
    async def lifespan(app):
        await service.queue.start()
        yield
        await service.queue.stop()

    routes = [
        Route("/", service.index),
        Route("/api/health", service.health),
        Route("/api/run", service.run),
        Route("/api/attribute", service.attribute, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    app.state.queue = service.queue
    return app


def _flag(params, name: str, default: bool | None) -> bool | None:
    value = params.get(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise BadRequest(400, f"query parameter {name}={value!r}: say true or false")


def _options(params, responses: bool, method: str) -> Options:
    unknown = sorted(set(params) - {"open_set", "policy", "upsample_small", "response"})
    if unknown:
        raise BadRequest(400, f"unknown query parameter(s): {', '.join(unknown)}")
    policy = params.get("policy", "tiles")
    if policy not in POLICIES:
        raise BadRequest(400, f"policy={policy!r}: one of {', '.join(POLICIES)}")
    response = _flag(params, "response", False)
    if response and not responses:
        raise BadRequest(400, f"method {method!r} has no image fingerprints to respond with (visNet has)")
    return Options(_flag(params, "open_set", None), policy, _flag(params, "upsample_small", False), response)


async def _uploads(request: Request, limits: ServiceLimits) -> list[tuple[str, bytes]]:
    """The request's images as (name, bytes), read within the byte and image limits."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_request_bytes:
        raise BadRequest(
            413, f"request body of {int(declared):,} bytes is over the limit of {limits.max_request_bytes:,}"
        )
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = bounded_body(request.receive, limits.max_request_bytes)
    try:
        if kind == "multipart/form-data":
            uploads = await _multipart(request, body, limits)
        elif kind.startswith("image/") or kind == "application/octet-stream":
            data = b"".join([chunk async for chunk in body])
            uploads = [(request.headers.get("x-filename") or "upload", data)] if data else []
        else:
            raise BadRequest(
                415, f"content type {kind or '(none)'!r}: send multipart/form-data, or one image as the body"
            )
    except RequestTooLarge as exc:
        raise BadRequest(413, str(exc)) from None
    if not uploads:
        raise BadRequest(400, "no image in the request")
    return uploads


async def _multipart(request: Request, body, limits: ServiceLimits) -> list[tuple[str, bytes]]:
    parser = MultiPartParser(request.headers, body, max_files=limits.max_images, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        if "Too many files" in str(exc):
            raise BadRequest(413, f"more than {limits.max_images} images in one request") from None
        raise BadRequest(400, f"malformed multipart body: {exc}") from None
    uploads = []
    try:
        for field, value in form.multi_items():
            if isinstance(value, str):
                raise BadRequest(400, f"form field {field!r} is not a file; send images as files")
            uploads.append((value.filename or field, await value.read()))
    finally:
        await form.close()
    return uploads
