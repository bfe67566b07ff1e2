"""The console's ASGI app: routes, the loopback/token guard, and errors as readable pages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from pixelpipe_cli.target import Target
from pixelpipe_console import actions, data, live, pages, uploads, views
from pixelpipe_console.address import DEFAULT_PORT
from pixelpipe_console.counts import StatusCounts
from pixelpipe_console.security import Guard

log = logging.getLogger("pixelpipe.console")

# No inline script and nothing from elsewhere: even an escaping slip could not run code. Inline styles
# are allowed (htmx adds its indicator style; the state machine SVG carries its own <style>).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _csp(request: Request, response: Response) -> str:
    """CSP; the jobs page's drop zone may also post forms to S3 (pixelpipe_console.uploads). Only that
    page, once it rendered: nothing else reads the target again for it."""
    if request.url.path != "/jobs" or response.status_code != 200:
        return CSP
    try:
        origins = uploads.connect_origins(request.app.state.console.target())
    except Exception:  # no stack (yet): the page says so; nothing to connect to
        return CSP
    return CSP.replace("connect-src 'self'", f"connect-src 'self' {' '.join(origins)}")


@dataclass
class Console:
    target_loader: Callable[[], Target]
    guard: Guard
    templates: Jinja2Templates
    counts: StatusCounts = field(default_factory=StatusCounts)

    def target(self) -> Target:
        return data.load_target(self.target_loader)


class GuardMiddleware(BaseHTTPMiddleware):
    """Host checked on every request; where a GET comes from; Origin and token on every state-changing one."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        guard: Guard = request.app.state.console.guard
        if request.method not in ("GET", "HEAD"):
            reason = await guard.refusal(request)
        else:
            reason = guard.read_refusal(request)  # Host; no cross-site streams, fragments or images
        if reason:
            return PlainTextResponse(f"403 refused: {reason}", status_code=403)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", _csp(request, response))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


async def _service_error(request: Request, error: Exception) -> Response:
    """AWS, emulator and operation errors: a message page (a fragment for htmx), never a traceback."""
    if isinstance(error, data.ConsoleError | data.OperationError):
        message, status = str(error), 400 if isinstance(error, data.OperationError) else 404
    else:
        message, status = f"{type(error).__name__}: {error}", 502
    return _message(request, message, status)


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("console request failed", exc_info=error)
    return _message(
        request, f"the console hit an unexpected error ({type(error).__name__}); see its log", 500
    )


def _message(request: Request, message: str, status: int) -> Response:
    if request.headers.get("hx-request"):
        return views.render(request, "_result.html", status_code=200, ok=False, lines=[message])
    return views.render(request, "error.html", status_code=status, message=message)


def create_app(
    target_loader: Callable[[], Target], port: int = DEFAULT_PORT, token: str | None = None
) -> Starlette:
    """The console for the target `target_loader` returns (read again for every request, so a restarted
    stack is picked up), answering only as http://127.0.0.1:PORT or http://localhost:PORT."""
    routes = [
        Route("/", lambda _: RedirectResponse("/jobs", status_code=303)),
        Route("/jobs", pages.jobs),
        Route("/jobs/rows", pages.job_rows),
        Route("/jobs/stats", pages.job_stats),
        Route("/jobs/{job_id}", pages.job),
        Route("/jobs/{job_id}/details", pages.job_details),
        Route("/jobs/{job_id}/thumbnails/{index:int}", pages.thumbnail),
        Route("/jobs/{job_id}/retry", actions.retry, methods=["POST"]),
        Route("/actions/retry-failed", actions.retry_failed, methods=["POST"]),
        Route("/uploads/form", uploads.upload_form, methods=["POST"]),
        Route("/queues", pages.queues),
        Route("/queues/workers", pages.worker_queues),
        Route("/queues/{queue}/redrive", actions.redrive, methods=["POST"]),
        Route("/pipeline", pages.pipeline),
        Route("/pipeline/map", pages.pipeline_map),
        Route("/live/jobs", live.jobs),
        Route("/live/jobs/{job_id}", live.job),
        Mount("/static", StaticFiles(directory=views.HERE / "static"), name="static"),
    ]
    errors = {error: _service_error for error in (*data.SERVICE_ERRORS, data.ConsoleError)}
    app = Starlette(
        routes=routes,
        middleware=[Middleware(GuardMiddleware)],
        exception_handlers={**errors, Exception: _unexpected},
    )
    app.state.console = Console(target_loader, Guard(port, token), views.make_templates())
    return app
