"""The console's pages against the real local stack, through Starlette's TestClient: user data escaped,
the jobs list paged through the status index (never a Scan), a job's page, thumbnails, queues, pipeline."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from pixelpipe.config import workers
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_cli.target import Target
from pixelpipe_console.app import create_app
from pixelpipe_emulator.stack import LocalStack
from support.inputs import SAMPLES

pytestmark = pytest.mark.e2e
PORT = 8484
HOSTILE = "<img src=x onerror=alert(1)>.jpg"


class NoScan(Target):
    """The stack's target, whose DynamoDB clients fail any Scan: the console must query the index."""

    def client(self, service: str) -> Any:
        made = super().client(service)
        if service == "dynamodb":

            def refuse(**_: Any) -> None:
                raise AssertionError("the console scanned the jobs table")

            made.meta.events.register("before-call.dynamodb.Scan", refuse)
        return made


@pytest.fixture(scope="module")
def console(stack: LocalStack) -> TestClient:
    target = NoScan(**vars(stack.target))
    return TestClient(create_app(lambda: target, port=PORT), base_url=f"http://127.0.0.1:{PORT}")


@pytest.fixture(scope="module")
def jobs(client: JobsClient) -> dict[str, str]:
    """A COMPLETE job, a FAILED one whose key is HTML, and three more to page through."""
    ids = {
        "done": client.upload(SAMPLES / "coffee.png", key_name="console-page.png"),
        "hostile": client.upload(SAMPLES / "not-an-image.jpg", key_name=HOSTILE),
        **{f"page{i}": client.upload(SAMPLES / "cat.png", key_name=f"console-pg-{i}.png") for i in range(3)},
    }
    records = client.wait(ids.values(), timeout=120)
    assert records[ids["done"]]["status"] == "COMPLETE" and records[ids["hostile"]]["status"] == "FAILED"
    return ids


def test_a_hostile_key_is_escaped_in_the_list_and_on_its_page(console: TestClient, jobs: dict) -> None:
    for path in ("/jobs", "/jobs?q=onerror", f"/jobs/{jobs['hostile']}", "/jobs/rows"):
        page = console.get(path)
        assert page.status_code == 200, path
        assert "<img src=x" not in page.text, path
        assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in page.text, path


def test_the_jobs_list_pages_newest_first_without_repeating_a_job(console: TestClient, jobs: dict) -> None:
    seen: list[str] = []
    url = "/jobs?status=COMPLETE&size=2"
    for _ in range(50):
        page = console.get(url)
        assert page.status_code == 200
        seen += re.findall(r'data-job-id="([^"]+)"', page.text)
        older = re.search(r'class="older" href="([^"]+)"', page.text)
        if not older:
            break
        url = older.group(1).replace("&amp;", "&")
    assert len(seen) == len(set(seen))
    expected = [job["jobId"] for job in JobsClient(console.app.state.console.target()).list("COMPLETE", 1000)]
    assert seen == expected
    assert {jobs["done"], jobs["page0"], jobs["page2"]} <= set(seen)


def test_search_finds_a_job_by_id_and_by_part_of_its_key(console: TestClient, jobs: dict) -> None:
    by_id = console.get(f"/jobs?q={jobs['page1']}")
    assert re.findall(r'data-job-id="([^"]+)"', by_id.text) == [jobs["page1"]]
    by_key = console.get("/jobs?q=console-pg-")
    assert set(re.findall(r'data-job-id="([^"]+)"', by_key.text)) == {jobs[f"page{i}"] for i in range(3)}


def test_counts_and_percentiles_are_shown(console: TestClient, jobs: dict, client: JobsClient) -> None:
    stats = console.get("/jobs/stats")
    assert stats.status_code == 200
    complete = len(client.table.by_status("COMPLETE", limit=10_000))
    assert f'data-status="COMPLETE">{complete}<' in stats.text
    assert "p50" in stats.text and "p99" in stats.text and 'class="histogram"' in stats.text


def test_a_complete_job_page_has_its_path_its_trace_and_its_thumbnails(
    console: TestClient, jobs: dict, client: JobsClient
) -> None:
    job = client.get(jobs["done"])
    page = console.get(f"/jobs/{jobs['done']}")
    assert page.status_code == 200
    assert re.search(r'class="state state-Task taken"[^>]*data-state="Mark job COMPLETE"', page.text)
    assert 'class="waterfall"' in page.text and "slowest hop" in page.text
    assert f"pixelpipe job {jobs['done']} --history" in page.text
    for index, thumb in enumerate(job["thumbnails"]):
        image = console.get(f"/jobs/{jobs['done']}/thumbnails/{index}")
        assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"  # JPEG
        assert f'width="{thumb["width"]}" height="{thumb["height"]}"' in page.text
    assert console.get(f"/jobs/{jobs['done']}/thumbnails/7").status_code == 404


def test_queues_and_pipeline_pages_name_every_worker_from_the_config(console: TestClient) -> None:
    queues, pipeline = console.get("/queues"), console.get("/pipeline")
    # and the fragments the pages refresh themselves with
    live_queues, live_map = console.get("/queues/workers"), console.get("/pipeline/map")
    assert {r.status_code for r in (queues, pipeline, live_queues, live_map)} == {200}
    for step, worker in workers().items():
        assert worker.queue in queues.text and worker.dlq in queues.text
        assert f'<tr data-step="{step}">' in live_queues.text
        for page in (pipeline, live_map):
            assert f'data-node="worker-{step}"' in page.text and worker.function in page.text


def test_retrying_a_complete_job_without_force_is_refused_inline(console: TestClient, jobs: dict) -> None:
    guard = console.app.state.console.guard
    answer = console.post(
        f"/jobs/{jobs['done']}/retry",
        headers={"Origin": f"http://127.0.0.1:{PORT}", "X-Console-Token": guard.token, "HX-Request": "true"},
    )
    assert answer.status_code == 200
    assert 'class="result refused"' in answer.text and "is COMPLETE" in answer.text


def test_retry_all_failed_since_a_time_reports_what_it_did(
    console: TestClient, jobs: dict, client: JobsClient
) -> None:
    guard = console.app.state.console.guard
    headers = {"Origin": f"http://127.0.0.1:{PORT}", "X-Console-Token": guard.token, "HX-Request": "true"}
    # nothing FAILED after a time in the future
    later = console.post("/actions/retry-failed", data={"since": "2999-01-01T00:00"}, headers=headers)
    assert later.status_code == 200 and "0 retried, 0 skipped" in later.text
    # since this module's jobs were created (to the second, as the form gives it): only its FAILED one
    since = client.get(jobs["done"])["createdAt"][:19]
    answer = console.post("/actions/retry-failed", data={"since": since}, headers=headers)
    assert answer.status_code == 200
    assert "1 retried, 0 skipped" in answer.text and f"{jobs['hostile']}: re-running " in answer.text
    assert [e["event"] for e in client.get(jobs["hostile"])["history"] if e["step"] == "operator"] == [
        "retry"
    ]
