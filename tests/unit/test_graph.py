"""The reconcile state machine drawn as SVG: every state, every transition, a job's path highlighted."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pixelpipe_cli.asl_model import END, START, condition_text, load_definition, parse_asl
from pixelpipe_cli.execution_history import ExecutionTrace, parse_history
from pixelpipe_cli.graph_svg import job_graph_svg, render_svg
from pixelpipe_cli.target import Target
from pixelpipe_cli.workflow_sources import console_url, job_executions

NS = {"svg": "http://www.w3.org/2000/svg"}


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything that isn't well-formed XML


def state_groups(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-state"): g for g in root.iterfind(".//svg:g[@data-state]", NS)}


def edge_groups(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iterfind(".//svg:g[@data-kind]", NS)]


def box_text(group: ET.Element) -> str:
    """The name as drawn: the box's wrapped lines joined again."""
    text = group.find("svg:text", NS)
    return " ".join(tspan.text or "" for tspan in text.iterfind("svg:tspan", NS))


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def transitions_in(definition: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The transitions counted straight from the ASL, independently of the code under test."""
    found = [(START, definition["StartAt"], "start")]
    for name, state in definition["States"].items():
        found += [(name, rule["Next"], "choice") for rule in state.get("Choices", [])]
        found += [(name, state["Default"], "default")] if "Default" in state else []
        found += [(name, catch["Next"], "catch") for catch in state.get("Catch", [])]
        found += [(name, state["Next"], "next")] if "Next" in state else []
        if state.get("End") or state["Type"] in ("Succeed", "Fail"):
            found.append((name, END, "end"))
    return found


def test_the_real_state_machine_is_valid_svg_naming_every_state_with_an_edge_per_transition() -> None:
    # GIVEN the reconcile ASL the pipeline deploys
    definition = load_definition()
    # WHEN it is drawn
    root = parsed(render_svg(parse_asl(definition), title="Reconcile"))
    # THEN every state is a box with its name written in it
    states = state_groups(root)
    assert set(states) == set(definition["States"])
    for name, group in states.items():
        assert box_text(group) == name
    # and each transition is one edge, with its kind
    drawn = sorted((g.get("data-from"), g.get("data-to"), g.get("data-kind")) for g in edge_groups(root))
    assert drawn == sorted(transitions_in(definition))
    # types are told apart: Choice, Task, Succeed (green) and Fail (red) each get their own class
    for name, group in states.items():
        assert f"state-{definition['States'][name]['Type']}" in classes(group)
    # nothing is highlighted without a job
    assert not [g for g in root.iter() if "taken" in classes(g)]


def test_choice_and_catch_edges_are_labelled_with_their_condition_and_error() -> None:
    root = parsed(render_svg(parse_asl(load_definition())))
    labels = {
        (g.get("data-from"), g.get("data-to")): g.find("svg:text", NS).text
        for g in edge_groups(root)
        if g.find("svg:text", NS) is not None
    }
    assert labels[("Did the step succeed?", "Record step success")] == "outcome == SUCCEEDED"
    assert labels[("Did the step succeed?", "Record step failure")] == "default"
    assert labels[("Is this a deadline?", "Fail job past its deadline")] == "kind == deadline"
    assert labels[("Record step success", "Read job (result already recorded or stale)")] == (
        "ConditionalCheckFailedException"
    )
    assert labels[("Job still pending?", "Keep terminal state")] == "job.status != PENDING"


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ({"Variable": "$.outcome", "StringEquals": "SUCCEEDED"}, "outcome == SUCCEEDED"),
        ({"Variable": "$.job.failedCount", "NumericGreaterThan": 0}, "job.failedCount > 0"),
        ({"Variable": "$.a", "NumericEqualsPath": "$.b"}, "a == b"),
        ({"Not": {"Variable": "$.s", "StringEquals": "PENDING"}}, "s != PENDING"),
        ({"Variable": "$.flag", "BooleanEquals": True}, "flag == true"),
        ({"Variable": "$.x", "IsPresent": False}, "x is missing"),
        (
            {"And": [{"Variable": "$.a", "NumericLessThan": 1}, {"Variable": "$.b", "StringMatches": "l*"}]},
            "a < 1 and b matches l*",
        ),
        ({"Condition": "{% $states.input.n > 2 %}"}, "$states.input.n > 2"),
    ],
)
def test_choice_rules_read_as_short_expressions(rule: dict, text: str) -> None:
    assert condition_text(rule) == text


def test_names_with_markup_characters_are_escaped_and_read_back_exactly() -> None:
    # GIVEN states whose names hold every character XML cares about, and a loop back to an earlier state
    odd = 'Check <size> & "type"'
    definition = {
        "StartAt": odd,
        "States": {
            odd: {
                "Type": "Choice",
                "Choices": [{"Variable": "$.kind", "StringEquals": "<&>", "Next": "Fail 'now'"}],
                "Default": "Wait a bit",
            },
            "Wait a bit": {"Type": "Wait", "Seconds": 1, "Next": odd},
            "Fail 'now'": {"Type": "Fail"},
        },
    }
    # WHEN it is drawn
    svg = render_svg(parse_asl(definition), title="<title & more>")
    # THEN the text is escaped in the file and comes back unchanged when parsed
    assert "<size>" not in svg and "&lt;size&gt;" in svg
    root = parsed(svg)
    assert {box_text(g) for g in state_groups(root).values()} == {odd, "Wait a bit", "Fail 'now'"}
    # and each state's data-state attribute (what a page embedding the SVG selects on) is its exact name
    assert set(state_groups(root)) == {odd, "Wait a bit", "Fail 'now'"}
    assert 'data-state="Check &lt;size&gt; &amp; &quot;type&quot;"' in svg
    labels = [t.text for g in edge_groups(root) for t in g.iterfind("svg:text", NS)]
    assert "kind == <&>" in labels
    assert ("Wait a bit", odd) in {(g.get("data-from"), g.get("data-to")) for g in edge_groups(root)}


def history(
    path: list[str], states: dict[str, Any], outcome: str = "SUCCEEDED", failure_in: str = ""
) -> list:
    """Execution history events, as get_execution_history returns them, for a walk through `path`."""
    clock = datetime(2026, 11, 25, tzinfo=UTC)
    started = {"input": json.dumps({"kind": "step", "step": "resize", "outcome": "SUCCEEDED"})}
    events: list[dict[str, Any]] = [
        {"timestamp": clock, "type": "ExecutionStarted", "executionStartedEventDetails": started}
    ]
    for i, name in enumerate(path, 1):
        at, kind = clock + timedelta(milliseconds=10 * i), states[name]["Type"]
        events.append(
            {"timestamp": at, "type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name}}
        )
        if name == failure_in:
            events.append({"timestamp": at, "type": "TaskFailed", "taskFailedEventDetails": {"error": "x"}})
        events.append(
            {"timestamp": at, "type": f"{kind}StateExited", "stateExitedEventDetails": {"name": name}}
        )
    events.append({"timestamp": clock + timedelta(seconds=1), "type": f"Execution{outcome.title()}"})
    return events


def then_next(states: dict[str, Any], name: str) -> list[str]:
    """`name` and the states its Next chain (a Choice's Default) leads to, up to the end."""
    path = [name]
    while following := states[path[-1]].get("Next") or states[path[-1]].get("Default"):
        path.append(following)
    return path


def test_highlighting_marks_exactly_the_states_and_transitions_taken() -> None:
    # GIVEN two executions of the real machine: one recorded a success and completed the job, one hit a
    # conditional check (the Catch) and found the job already terminal
    definition = load_definition()
    graph, states = parse_asl(definition), definition["States"]
    recorded = ["Is this a deadline?", "Did the step succeed?", "Record step success"]
    first = parse_history(
        "arn:aws:states:us-east-1:123456789012:execution:pixelpipe-reconcile:job-resize-1-S",
        history(
            [*recorded, "Count step result", "Job still pending?", *then_next(states, "Mark job COMPLETE")],
            states,
        ),
    )
    second = parse_history(
        "arn:aws:states:us-east-1:123456789012:execution:pixelpipe-reconcile:job-resize-2-S",
        history(
            [
                *recorded,
                "Read job (result already recorded or stale)",
                "Job still pending?",
                "Keep terminal state",
            ],
            states,
            failure_in="Record step success",
        ),
    )
    assert first.step == "resize" and first.status == "SUCCEEDED"
    assert second.caught == {("Record step success", "Read job (result already recorded or stale)")}
    # WHEN the graph is drawn with them
    root = parsed(render_svg(graph, title="job", executions=[first, second]))
    # THEN exactly the entered states are marked, with their visit counts
    states = state_groups(root)
    entered = set(first.states) | set(second.states)
    assert {name for name, g in states.items() if "taken" in classes(g)} == entered
    assert states["Record step success"].get("data-visits") == "2"
    assert states["Mark job COMPLETE"].get("data-visits") == "1"
    assert states["Record step failure"].get("data-visits") == "0"
    # and exactly the transitions taken: the Catch edge, not the Next edge, for the caught one
    taken = {
        (g.get("data-from"), g.get("data-to"), g.get("data-kind"))
        for g in edge_groups(root)
        if "taken" in classes(g)
    }
    assert ("Record step success", "Read job (result already recorded or stale)", "catch") in taken
    assert ("Record step success", "Count step result", "next") in taken  # by the first execution
    assert ("Did the step succeed?", "Record step failure", "default") not in taken
    assert (START, "Is this a deadline?", "start") in taken
    assert ("Keep terminal state", END, "end") in taken
    assert len(taken) == len({t[:2] for t in first.transitions() + second.transitions()})
    # the legend lists each execution with its step, outcome and path
    rows = root.iterfind(".//svg:g[@class='legend']//svg:text", NS)
    legend = " ".join(" ".join(t.text or "" for t in rows).split())  # long paths wrap onto several rows
    assert "job-resize-1-S" in legend and "job-resize-2-S" in legend
    assert "resize SUCCEEDED" in legend
    assert "Record step success → Read job (result already recorded or stale)" in legend


def test_history_events_keep_their_order_type_state_and_offset() -> None:
    states = load_definition()["States"]
    trace = parse_history("arn:x:y:z", history(["Is this a deadline?", "Mark job FAILED"], states))
    assert [(e.type, e.state) for e in trace.events][:3] == [
        ("ExecutionStarted", ""),
        ("ChoiceStateEntered", "Is this a deadline?"),
        ("ChoiceStateExited", "Is this a deadline?"),
    ]
    assert trace.events[-1].type == "ExecutionSucceeded" and trace.events[-1].offset_ms == 1000
    assert trace.states == ["Is this a deadline?", "Mark job FAILED"]


def test_an_unfinished_execution_does_not_reach_the_end_node() -> None:
    trace = ExecutionTrace(arn="a:b", status="RUNNING", step="resize", outcome="SUCCEEDED", states=["A"])
    assert trace.transitions() == [(START, "A", False)]


def test_console_url_opens_the_express_execution_in_its_own_region() -> None:
    # GIVEN an Express execution in eu-west-1
    arn = "arn:aws:states:eu-west-1:111122223333:express:pixelpipe-reconcile:job-resize-1-S:abc"
    # WHEN its console URL is made
    url = urlsplit(console_url("eu-west-1", arn))
    # THEN it is the Step Functions console of that region, on the Express execution view of that ARN
    assert (url.scheme, url.netloc, url.path) == ("https", "eu-west-1.console.aws.amazon.com", "/states/home")
    assert parse_qs(url.query) == {"region": ["eu-west-1"]}
    view, _, shown = url.fragment.rpartition("/")
    assert (view, shown) == ("/express-executions/details", arn)


def test_aws_notes_and_links_are_drawn_and_stay_valid_xml() -> None:
    url = console_url("us-east-1", "arn:aws:states:us-east-1:1:express:m:a&b")
    root = parsed(
        render_svg(parse_asl(load_definition()), notes=["history is in CloudWatch Logs"], links=[(url, url)])
    )
    hrefs = [a.get("href") for a in root.iterfind(".//svg:a", NS)]
    assert hrefs == [url]


def test_on_aws_without_a_log_group_the_job_graph_is_unhighlighted_with_console_urls() -> None:
    # GIVEN a deployed target (no endpoint: AWS) and a job with two recorded executions
    target = Target("eu-west-1", "u", "uploads/", "t", "jobs", "idx", "topic", "machine")
    arns = [
        f"arn:aws:states:eu-west-1:1:express:pixelpipe-reconcile:job-{s}-1-S:x"
        for s in ("resize", "analysis")
    ]
    job = {"jobId": "job", "status": "COMPLETE", "executions": arns}
    # WHEN its graph is drawn (no AWS call is made: the target names no log group to read history from)
    executions = job_executions(target, job)
    svg, messages = job_graph_svg(job, parse_asl(load_definition()), executions), executions.messages
    # THEN the terminal is told why, with each execution's console URL, and nothing is highlighted
    assert "CloudWatch Logs" in messages[0]
    assert messages[1:] == [console_url("eu-west-1", arn) for arn in arns]
    root = parsed(svg)
    assert not [g for g in root.iter() if "taken" in classes(g)]
    assert [a.get("href") for a in root.iterfind(".//svg:a", NS)] == messages[1:]


def test_a_job_whose_strings_hold_script_tags_and_illegal_characters_still_draws_as_inert_xml() -> None:
    # GIVEN a deployed target and a job record whose id, status and execution ARN carry markup, a
    # <script> element and characters XML 1.0 forbids outright
    target = Target("eu-west-1", "u", "uploads/", "t", "jobs", "idx", "topic", "machine")
    script = "<script>alert('x')</script>"
    arn = f'arn:aws:states:eu-west-1:1:express:m:"><{script}'
    job = {"jobId": f"{script}\x01", "status": "FAILED & <b>", "executions": [arn]}
    # WHEN its graph is drawn
    svg = job_graph_svg(job, parse_asl(load_definition()), job_executions(target, job))
    # THEN the file parses as XML, holds no element but SVG's own, and reads back the text as written
    root = parsed(svg)
    assert "<script" not in svg
    assert {element.tag.split("}")[-1] for element in root.iter()} <= {
        "svg", "title", "style", "defs", "marker", "path", "text", "tspan", "g", "rect", "polygon", "a",
        "circle", "polyline", "line",
    }  # fmt: skip
    title = f"Reconcile executions of job {script}\ufffd (FAILED & <b>)"
    assert root.find("svg:title", NS).text == title
    assert [a.get("href") for a in root.iterfind(".//svg:a", NS)] == [console_url("eu-west-1", arn)]


def test_an_execution_recorded_with_script_tags_in_its_input_draws_them_as_legend_text() -> None:
    definition = load_definition()
    states = definition["States"]
    events = history(then_next(states, definition["StartAt"]), states)
    events[0]["executionStartedEventDetails"]["input"] = json.dumps(
        {"kind": "step", "step": "<script>x</script>", "outcome": "&amp;\x0b"}
    )
    trace = parse_history("arn:aws:states:r:1:express:m:run-1", events)
    root = parsed(render_svg(parse_asl(definition), title="t", executions=[trace]))
    legend = [t.text for t in root.iterfind(".//svg:g[@class='legend']/svg:text", NS)]
    assert "1. <script>x</script> &amp;\ufffd — execution SUCCEEDED — run-1" in legend
    assert not list(root.iter("{http://www.w3.org/2000/svg}script")) and not list(root.iter("script"))
