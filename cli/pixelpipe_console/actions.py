"""State-changing actions (POST only; the guard has checked Host, Origin and token before these run).

Each one calls the CLI's operation and answers with its outcome: a fragment for htmx to show next to
the button, or a small page when the browser posted a plain form.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from pixelpipe_console import data, data_queues
from pixelpipe_console.views import render


def _answer(request: Request, ok: bool, lines: list[str]) -> Response:
    name = "_result.html" if request.headers.get("hx-request") else "result.html"
    return render(request, name, ok=ok, lines=lines)


async def retry(request: Request) -> Response:
    form = await request.form()
    job_id = request.path_params["job_id"]
    step = str(form.get("step") or "") or None
    force = form.get("force") in ("1", "on", "true")
    target = request.app.state.console.target()
    try:
        message = await run_in_threadpool(data.retry, target, job_id, step, force)
    except data.OperationError as error:
        return _answer(request, False, [str(error)])
    return _answer(request, True, [f"{job_id}: {message}"])


async def retry_failed(request: Request) -> Response:
    form = await request.form()
    since = data.parse_since(str(form.get("since") or ""))
    target = request.app.state.console.target()
    outcome = await run_in_threadpool(data.retry_failed, target, since)
    lines = [
        f"{len(outcome.retried)} retried, {len(outcome.skipped)} skipped"
        + (f" (since {since})" if since else "")
    ]
    lines += [f"{r.job_id}: re-running {', '.join(r.steps)}" for r in outcome.retried]
    lines += [f"{job_id}: skipped: {reason}" for job_id, reason in outcome.skipped.items()]
    return _answer(request, True, lines)


async def redrive(request: Request) -> Response:
    queue = request.path_params["queue"]
    target = request.app.state.console.target()
    try:
        reports = await run_in_threadpool(data_queues.redrive, target, None if queue == "all" else queue)
    except data.OperationError as error:
        return _answer(request, False, [str(error)])
    lines = []
    for report in reports:
        line = f"{report.step}: {report.found} found, {report.moved} {report.mode}"
        if report.reopened:
            line += f"; reopened {', '.join(report.reopened)}"
        if report.not_moved:
            line += f"; NOT moved: {report.not_moved}"
        lines.append(line)
    return _answer(request, not any(r.not_moved for r in reports), lines or ["nothing to redrive"])
