"""The reconcile state machine executes lifecycle transitions: its conditions must be the module's.

The ASL's conditions are generated here from pixelpipe.logic.lifecycle with the same renderer JobsTable
uses, and compared with statemachine/reconcile.asl.json: a change on one side only fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pixelpipe.adapters.dynamo_expressions import Expression, value_placeholder
from pixelpipe.config import settings
from pixelpipe.logic.conditions import Condition, Equals, Field, Greater, Not, params_of
from pixelpipe.logic.lifecycle import (
    CLAIM,
    CREATE,
    NOTE_UNREPORTED,
    OVERDUE,
    RECORD_FAILURE,
    RECORD_SUCCESS,
    REJECT,
    REOPEN,
    REOPEN_FORCED,
    REOPEN_UNDISPATCHED,
    SETTLE,
    TRANSITIONS,
    JobStatus,
)

ROOT = Path(__file__).resolve().parents[2]
ASL: dict[str, Any] = json.loads((ROOT / settings().state_machine.definition).read_text())
STATES: dict[str, Any] = ASL["States"]
EXECUTED = [t for t in TRANSITIONS if t.executed_by]
# The ASL's Choice states read the job's attributes that the DynamoDB tasks select into $.job.
JOB_PATH = "$.job"
KEEP_TERMINAL = "Keep terminal state"
WAIT = "Wait for other steps"


def as_asl(condition: Condition) -> tuple[str, Expression]:
    """The condition rendered as the ASL spells it (each parameter bound to the state input's field),
    and the expression holding the names and values it used."""
    expression = Expression(**{name: f"$.{name}" for name in params_of(condition)})
    return expression.condition(condition), expression


@pytest.mark.parametrize("transition", EXECUTED, ids=[t.executed_by for t in EXECUTED])
def test_each_transition_the_state_machine_executes_has_the_modules_condition(transition):
    # GIVEN the state that executes it, a DynamoDB conditional write
    state = STATES[transition.executed_by]
    assert state["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    parameters = state["Parameters"]

    # WHEN the module's condition is rendered
    rendered, expression = as_asl(transition.condition)

    # THEN the ConditionExpression is the same text, over the same names and constant values
    assert parameters["ConditionExpression"] == rendered
    names, values = parameters["ExpressionAttributeNames"], parameters["ExpressionAttributeValues"]
    for alias, attribute in expression.names.items():
        if attribute.startswith("$."):  # a path parameter: the ASL reads it from its input
            assert names[f"{alias}.$"] == attribute, alias
        else:
            assert names[alias] == attribute, alias
    for placeholder, typed in expression.values.items():
        if placeholder[1:] in params_of(transition.condition):
            assert placeholder in values or f"{placeholder}.$" in values, placeholder
        else:
            assert values[placeholder] == typed, placeholder


@pytest.mark.parametrize("transition", [t for t in EXECUTED if t.job], ids=lambda t: t.executed_by)
def test_a_terminal_state_task_writes_the_transitions_target_status(transition):
    parameters = STATES[transition.executed_by]["Parameters"]
    target = value_placeholder(transition.job.target)
    assert parameters["UpdateExpression"].startswith(f"SET #status = {target},")
    assert parameters["ExpressionAttributeValues"][target] == {"S": transition.job.target.value}


def test_every_conditional_write_in_the_state_machine_is_a_declared_transition():
    conditional = {
        name
        for name, state in STATES.items()
        if state.get("Type") == "Task" and "ConditionExpression" in state.get("Parameters", {})
    }
    assert conditional == {t.executed_by for t in EXECUTED}


def choice_rule(condition: Condition) -> dict[str, Any]:
    """A SETTLE rule as an ASL Choice rule over $.job."""
    match condition:
        case Not(part):
            return {"Not": choice_rule(part)}
        case Equals(Field((name,)), Field((other,))):
            return {"Variable": f"{JOB_PATH}.{name}", "NumericEqualsPath": f"{JOB_PATH}.{other}"}
        case Equals(Field((name,)), JobStatus() as status):
            return {"Variable": f"{JOB_PATH}.{name}", "StringEquals": status.value}
        case Greater(Field((name,)), int() as number):
            return {"Variable": f"{JOB_PATH}.{name}", "NumericGreaterThan": number}
    raise AssertionError(f"no ASL Choice rule for {condition!r}")


def test_the_terminal_decision_is_the_modules_settle_rules_in_order():
    # GIVEN the module's rules WHEN written as the Choice state's rules
    expected = [
        choice_rule(condition) | {"Next": outcome.executed_by if outcome else KEEP_TERMINAL}
        for condition, outcome in SETTLE
    ]
    # THEN "Job still pending?" has exactly those, and waits when none holds
    assert STATES["Job still pending?"]["Choices"] == expected
    assert STATES["Job still pending?"]["Default"] == WAIT


def test_a_step_result_is_recorded_by_the_transition_of_its_outcome():
    choice = STATES["Did the step succeed?"]
    assert choice["Choices"] == [
        {
            "Variable": "$.outcome",
            "StringEquals": RECORD_SUCCESS.step.target.value,
            "Next": "Record step success",
        }
    ]
    assert choice["Choices"][0]["Next"] == RECORD_SUCCESS.executed_by
    assert choice["Default"] == RECORD_FAILURE.executed_by


# The adapter's writes render the conditions JobsTable has always sent (the ASL holds the others).
@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (CREATE.condition, "attribute_not_exists(jobId)"),
        (REJECT.condition, "attribute_not_exists(jobId)"),
        (CLAIM.condition, "#status = :pending AND steps.#step.#status IN (:step_pending, :running)"),
        (
            NOTE_UNREPORTED.condition,
            "#status = :pending AND steps.#step.#status = :running AND steps.#step.attempts = :attempt",
        ),
        (REOPEN.condition, "#status = :failed AND updatedAt = :seen"),
        (REOPEN_FORCED.condition, "#status IN (:failed, :complete) AND updatedAt = :seen"),
        (
            REOPEN_UNDISPATCHED.condition,
            "#status = :failed AND attribute_not_exists(dispatchedAt) AND updatedAt = :seen",
        ),
        (OVERDUE, "#status = :pending AND deadlineAt <= :at"),
    ],
)
def test_the_adapters_conditions_render_as_dynamodb_expressions(condition, expected):
    expression = Expression(step="resize", attempt=2, seen="2026-11-25T08:00:00.000Z", at="x")
    assert expression.condition(condition) == expected
    # DynamoDB rejects unused names and values: the expression holds only those it wrote
    used = expected.translate(str.maketrans("(),.", "    ")).split()
    assert set(expression.names) | set(expression.values) == {t for t in used if t[0] in "#:"}
