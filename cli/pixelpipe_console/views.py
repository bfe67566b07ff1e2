"""Templates and the small formatting helpers they use. Autoescaping is on for every template: object
keys, labels, reasons and execution data are user data and reach the page as text only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from pixelpipe.logic.clock import parse_iso
from pixelpipe_cli import step_results
from pixelpipe_console import data

HERE = Path(__file__).parent


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.2f} s"
    return f"{value / 60_000:.1f} min"


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def _when(iso: str | None) -> str:
    """`2026-11-25 22:10:03` in UTC: short, sortable, no locale surprises."""
    if not iso:
        return "—"
    try:
        return parse_iso(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _smallest_thumbnail(job: dict[str, Any]) -> int | None:
    thumbs = job.get("thumbnails", [])
    if not thumbs:
        return None
    return min(range(len(thumbs)), key=lambda i: thumbs[i].get("size", 0))


def make_templates() -> Jinja2Templates:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, whatever its name
    )
    environment.filters.update(ms=_ms, age=_age, when=_when)
    environment.globals.update(
        duration_ms=data.duration_ms,
        job_version=data.job_version,
        smallest_thumbnail=_smallest_thumbnail,
        step_results=step_results.other_results,
        statuses=data.STATUSES,
        now=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    )
    return Jinja2Templates(env=environment)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    console = request.app.state.console
    context.update(token=console.guard.token, token_header=console.guard.token_header_json)
    return console.templates.TemplateResponse(request, name, context, status_code=status_code)


def fragment(request: Request, name: str, **context: Any) -> str:
    """A template rendered to text (for server-sent events, which carry HTML fragments)."""
    console = request.app.state.console
    context.update(token=console.guard.token, token_header=console.guard.token_header_json, request=request)
    return console.templates.get_template(name).render(context)
