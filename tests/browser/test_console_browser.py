"""The web console in chromium: live jobs list, a job's graph, trace and thumbnails, retry and redrive
from the page, hostile keys shown as text, and a cross-origin form refused."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from pixelpipe.config import workers
from pixelpipe_cli import dlq, step_results, traces
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_emulator.stack import LocalStack, free_port
from support.browser import FLAKY
from support.inputs import SAMPLES
from support.stacks import finished, wait_until

pytestmark = pytest.mark.e2e
HOSTILE_KEY = "<img src=x onerror=alert(1)>.jpg"


def failed_resize_job(client: JobsClient, name: str) -> str:
    """A job whose resize failed transiently on both allowed receives (see FLAKY_RESIZE), its message in
    the resize DLQ; a retry or a redrive can succeed."""
    job_id = client.upload(SAMPLES / "cat.png", key_name=FLAKY + name)
    job = finished(client, job_id)
    assert job["status"] == "FAILED" and job["steps"]["resize"]["status"] == "FAILED", job
    return job_id


def test_jobs_page_shows_a_new_job_live_until_it_completes(
    page: Any, console_url: str, jobs_client: JobsClient
) -> None:
    # GIVEN the jobs page, open before the upload
    page.goto(f"{console_url}/jobs")
    page.evaluate("window.notReloaded = true")
    expect(page.locator("#stats .count")).to_have_count(3)
    # WHEN an image is uploaded
    job_id = jobs_client.upload(SAMPLES / "cat.png", key_name="live-cat.png")
    # THEN its row appears and turns COMPLETE without a reload, with its thumbnail and labels
    row = page.locator(f"tr[data-job-id='{job_id}']")
    expect(row).to_be_visible(timeout=15_000)
    expect(row.locator(".badge")).to_have_text("COMPLETE", timeout=30_000)
    expect(row.locator(".labels .chip").first).to_be_visible()
    expect(row.locator(".key")).to_contain_text("uploads/live-cat.png")
    assert page.evaluate("window.notReloaded") is True
    wait_until(lambda: row.locator(".preview img").evaluate("img => img.naturalWidth") > 0, timeout=10)


def test_job_page_of_a_complete_job_shows_its_path_its_trace_and_its_thumbnails(
    page: Any,
    console_url: str,
    console_stack: LocalStack,
    jobs_client: JobsClient,
    screenshot: Callable[[Any, str], None],
    screenshot_dir: Path,
) -> None:
    # GIVEN a COMPLETE job whose trace has every hop recorded
    job_id = jobs_client.upload(SAMPLES / "coffee.png", key_name="espresso.png")
    job = finished(jobs_client, job_id)
    assert job["status"] == "COMPLETE"
    # (a worker's segment reaches X-Ray after the subsegments it streamed: until then those show as hops)
    workers_hops = {"dispatch-tasks", *(w.function for w in workers().values())}

    def whole_trace() -> dict | None:
        trace = traces.job_trace(console_stack.target, job)
        hops = {s["name"] for s in trace["spans"] if s["depth"] == 0}
        return trace if workers_hops <= hops and len(trace["spans"]) > 10 else None

    trace = wait_until(whole_trace, timeout=15)
    # WHEN its page is opened
    page.goto(f"{console_url}/jobs/{job_id}")
    # THEN the graph highlights the path to COMPLETE and not the failure branch
    expect(page.locator("#job-status")).to_have_text("COMPLETE")
    complete = page.locator('#graph g[data-state="Mark job COMPLETE"]')
    expect(complete).to_have_class("state state-Task taken")
    expect(page.locator('#graph g[data-state="Record step failure"]')).not_to_have_class("taken")
    # and clicking a state shows what it received in each execution
    page.locator('#graph g[data-state="Record step success"]').click()
    expect(page.locator("#state-panel h3")).to_have_text("Record step success")
    expect(page.locator("#state-panel .visit")).to_have_count(len(job["expectedSteps"]))  # one per step
    expect(page.locator("#state-panel pre").first).to_contain_text(job_id)
    # and the waterfall has a row per span of the trace, each hop among them, the slowest marked once
    rows = page.locator("#waterfall details")
    assert rows.count() >= len(trace["spans"])
    hops = [s["name"] for s in trace["spans"] if s["depth"] == 0]
    shown_hops = page.locator("#waterfall details.depth-0 .span-name").all_inner_texts()
    assert [h.replace(" slowest hop", "") for h in shown_hops][: len(hops)] == hops
    expect(page.locator("#waterfall details.slowest")).to_have_count(1)
    # and a span opens onto its details
    page.locator("#waterfall details.depth-0 summary").first.click()
    expect(page.locator("#waterfall details.depth-0 .span-details").first).to_be_visible()
    # and the three thumbnails really loaded, at their real sizes
    thumbs = page.locator("img.thumb")
    expect(thumbs).to_have_count(3)
    for i in range(3):
        thumbs.nth(i).scroll_into_view_if_needed()
        width = wait_until(lambda i=i: thumbs.nth(i).evaluate("img => img.naturalWidth"), timeout=10)
        assert width == job["thumbnails"][i]["width"]
    expect(page.locator(".label-row .name").first).to_have_text("espresso")
    # and every other step's result is shown as its values (e.g. the metadata step's hash)
    for step, worker in workers().items():
        if worker.result_field not in step_results.DEDICATED_VIEWS:
            expect(page.locator(f'section.step-result[data-step="{step}"]')).to_be_visible()
    expect(page.locator('section.step-result[data-step="metadata"]')).to_contain_text(
        job["metadata"]["phash"]
    )
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "console-job.png")
    page.locator("#waterfall").screenshot(path=str(screenshot_dir / "console-trace.png"))


def test_a_failed_job_retried_from_its_page_ends_complete(
    page: Any, console_url: str, console_stack: LocalStack, jobs_client: JobsClient
) -> None:
    # GIVEN a job FAILED by a transient error, the cause since fixed
    job_id = failed_resize_job(jobs_client, "retry-me.png")
    page.goto(f"{console_url}/jobs/{job_id}")
    expect(page.locator("#job-status")).to_have_text("FAILED")
    # WHEN the operator presses "Retry job"
    page.locator("#retry-job").click()
    # THEN the result shows inline and the page follows the job live to COMPLETE
    expect(page.locator("#action-result")).to_contain_text("re-running resize")
    expect(page.locator("#job-status")).to_have_text("COMPLETE", timeout=30_000)
    expect(page.locator("img.thumb")).to_have_count(3, timeout=10_000)
    job = jobs_client.get(job_id)
    assert job["status"] == "COMPLETE" and job["steps"]["resize"]["attempts"] == 3
    assert [e["event"] for e in job["history"] if e["step"] == "operator"] == ["retry"]


def test_a_dlq_redrive_from_the_queues_page_gets_the_job_done(
    page: Any,
    console_url: str,
    console_stack: LocalStack,
    jobs_client: JobsClient,
    screenshot: Callable[[Any, str], None],
) -> None:
    # GIVEN a FAILED job whose resize message is in the DLQ
    job_id = failed_resize_job(jobs_client, "redrive-me.png")
    in_dlq = wait_until(
        lambda: any(d.job_id == job_id for d in dlq.dlq_list(console_stack.target, "resize")[0].samples),
        timeout=20,
    )
    assert in_dlq
    # WHEN the queues page lists it and the operator redrives the resize DLQ
    page.goto(f"{console_url}/queues")
    resize_dlq = page.locator(".dlq[data-step='resize']")
    expect(resize_dlq.locator(f"a[href='/jobs/{job_id}']")).to_be_visible()
    row = resize_dlq.locator("tr", has=page.locator(f"a[href='/jobs/{job_id}']"))
    expect(row.locator(".reason")).to_contain_text("resize: gave up after 2 attempts")
    screenshot(page, "console-queues.png")
    resize_dlq.locator("button.redrive").click()
    # THEN the result names the reopened job, and the job completes
    expect(resize_dlq.locator(".result")).to_contain_text(f"reopened {job_id}")
    job = finished(jobs_client, job_id)
    assert job["status"] == "COMPLETE", job.get("failureReason")
    assert all(d.job_id != job_id for d in dlq.dlq_list(console_stack.target, "resize")[0].samples)


def test_a_hostile_key_is_shown_as_text_everywhere(
    page: Any, console_url: str, jobs_client: JobsClient, screenshot: Callable[[Any, str], None]
) -> None:
    # GIVEN a job whose object key is HTML
    job_id = jobs_client.upload(SAMPLES / "not-an-image.jpg", key_name=HOSTILE_KEY)
    finished(jobs_client, job_id)
    # WHEN the jobs list and the job page show it
    page.goto(f"{console_url}/jobs?q=onerror")
    row = page.locator(f"tr[data-job-id='{job_id}']")
    expect(row.locator(".key a")).to_have_text(f"uploads/{HOSTILE_KEY}")
    page.goto(f"{console_url}/jobs/{job_id}")
    # THEN the key reads literally, no element was injected (no image with src "x", no alert: see `page`)
    expect(page.locator("h1.key")).to_have_text(f"uploads/{HOSTILE_KEY}")
    assert page.locator("img[src='x']").count() == 0
    # and the jobs list of this run, every job in it (counts and percentiles included), for the README
    page.goto(f"{console_url}/jobs")
    expect(page.locator(f"tr[data-job-id='{job_id}'] .key a")).to_have_text(f"uploads/{HOSTILE_KEY}")
    expect(page.locator("#stats .percentiles")).to_be_visible()
    # polled from here: wait_for_function evaluates its text with eval once it has to wait, which the
    # console's Content-Security-Policy (script-src 'self') refuses, as it should
    loaded = "[...document.querySelectorAll('.preview img')].every(i => i.complete && i.naturalWidth > 0)"
    wait_until(lambda: page.evaluate(loaded), timeout=15)
    screenshot(page, "console-jobs.png")


@pytest.fixture
def other_origin(console_url: str) -> Iterator[str]:
    """A page on another origin whose form posts a forced retry to the console, as a hostile site might."""
    port = free_port()

    class Hostile(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            job_id = self.path.strip("/")
            body = (
                f'<form id="f" method="post" action="{console_url}/jobs/{job_id}/retry">'
                '<input name="force" value="1"><input name="token" value="guessed"></form>'
                '<button id="go" onclick="document.getElementById(\'f\').submit()">go</button>'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def test_a_post_from_another_origin_is_refused(
    page: Any, console_url: str, other_origin: str, jobs_client: JobsClient
) -> None:
    # GIVEN a COMPLETE job and a page of another origin with a form aimed at the console
    job_id = jobs_client.upload(SAMPLES / "cat.png", key_name="not-yours.png")
    before = finished(jobs_client, job_id)
    page.goto(f"{other_origin}/{job_id}")
    # WHEN the form is submitted from there
    with page.expect_navigation():
        page.locator("#go").click()
    # THEN the console answers 403 and the job is untouched
    expect(page.locator("body")).to_contain_text("403 refused")
    expect(page.locator("body")).to_contain_text("cross-origin")
    after = jobs_client.get(job_id)
    assert after["history"] == before["history"] and after["status"] == "COMPLETE"


def test_the_pipeline_page_draws_a_lane_per_worker_with_live_counts(
    page: Any, console_url: str, screenshot: Callable[[Any, str], None]
) -> None:
    page.goto(f"{console_url}/pipeline")
    for step, worker in workers().items():
        lane = page.locator(f"#node-worker-{step}")
        expect(lane).to_contain_text(worker.function)
        expect(page.locator(f"#node-queue-{step}")).to_contain_text("waiting")
    expect(page.locator("#node-table")).to_contain_text("complete")
    screenshot(page, "console-pipeline.png")
