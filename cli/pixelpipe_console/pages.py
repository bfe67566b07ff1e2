"""The console's pages and the fragments htmx swaps into them (all GET, all read-only)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from pixelpipe_cli.target import Target
from pixelpipe_console import data, data_queues
from pixelpipe_console.views import render

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def _target(request: Request) -> Target:
    return request.app.state.console.target()


def jobs_filters(request: Request) -> dict[str, Any]:
    """The jobs page's filters from the query string (status, search, time range, page cursor)."""
    params = request.query_params
    status = params.get("status", "").upper()
    size = params.get("size", "")
    return {
        "status": status if status in data.STATUSES else "",
        "q": params.get("q", "")[:200],
        "since": params.get("since", ""),
        "until": params.get("until", ""),
        "before": params.get("before", ""),
        "size": min(int(size), MAX_PAGE_SIZE) if size.isdigit() and int(size) > 0 else PAGE_SIZE,
    }


def jobs_context(target: Target, filters: dict[str, Any]) -> dict[str, Any]:
    page = data.jobs_page(
        target,
        status=filters["status"] or None,
        query=filters["q"],
        # a createdAt from the previous page, used as it is; else the end of the chosen time range
        before=filters["before"] or data.parse_since(filters["until"]),
        since=data.parse_since(filters["since"]),
        size=filters["size"],
    )
    return {"page": page, "filters": filters}


def counts(request: Request, target: Target) -> tuple[dict[str, int], float]:
    return request.app.state.console.counts.get(target)


def stats_context(request: Request, target: Target) -> dict[str, Any]:
    status_counts, age_s = counts(request, target)
    return {"counts": status_counts, "counted_s_ago": age_s, "stats": data.duration_stats(target)}


def jobs(request: Request) -> Response:
    target = _target(request)
    filters = jobs_filters(request)
    return render(request, "jobs.html", target=target, **jobs_context(target, filters))


def job_rows(request: Request) -> Response:
    target = _target(request)
    return render(request, "_job_rows.html", **jobs_context(target, jobs_filters(request)))


def job_stats(request: Request) -> Response:
    return render(request, "_job_stats.html", **stats_context(request, _target(request)))


def job_sections(target: Target, job: dict[str, Any]) -> dict[str, Any]:
    """Everything under the summary: graph with the executions' path, trace waterfall, AWS links. A
    section whose source cannot be read says so in its place; the rest of the page still shows."""
    problems: dict[str, str] = {}
    try:
        graph = data.job_graph(target, job)
    except data.SERVICE_ERRORS as error:
        graph, problems["graph"] = None, f"executions unreadable: {error}"
    try:
        waterfall = data.job_waterfall(target, job)
    except data.SERVICE_ERRORS as error:
        waterfall, problems["trace"] = None, f"trace unreadable: {error}"
    return {
        "graph": graph,
        "waterfall": waterfall,
        "aws_links": data.aws_links(target, job),
        "problems": problems,
    }


def job(request: Request) -> Response:
    target = _target(request)
    record = data.get_job(target, request.path_params["job_id"])
    return render(request, "job.html", target=target, job=record, **job_sections(target, record))


def job_details(request: Request) -> Response:
    target = _target(request)
    record = data.get_job(target, request.path_params["job_id"])
    return render(request, "_job_details.html", target=target, job=record, **job_sections(target, record))


def thumbnail(request: Request) -> Response:
    target = _target(request)
    record = data.get_job(target, request.path_params["job_id"])
    body, content_type = data.thumbnail(target, record, request.path_params["index"])
    return Response(body, media_type=content_type, headers={"Cache-Control": "private, max-age=60"})


def queues(request: Request) -> Response:
    target = _target(request)
    return render(
        request,
        "queues.html",
        target=target,
        queues=data_queues.worker_queues(target),
        dlqs=data_queues.dead_letter_queues(target),
    )


def _pipeline_map(request: Request, target: Target) -> data_queues.PipelineMap:
    status_counts, _ = counts(request, target)
    return data_queues.pipeline_map(target, status_counts)


def pipeline(request: Request) -> Response:
    target = _target(request)
    return render(request, "pipeline.html", target=target, map=_pipeline_map(request, target))


def worker_queues(request: Request) -> Response:
    return render(request, "_worker_queues.html", queues=data_queues.worker_queues(_target(request)))


def pipeline_map(request: Request) -> Response:
    return render(request, "_pipeline_map.html", map=_pipeline_map(request, _target(request)))
