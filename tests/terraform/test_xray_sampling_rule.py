"""The X-Ray sampling rule: its numbers come from pipeline.json (the one place), and it is scoped to this
stack's state machine, the part of the pipeline that consults sampling rules (docs/operations.md)."""

from __future__ import annotations

from tf_model import Scope, evaluate, root

from pixelpipe.config import settings


def rule() -> dict:
    return root().resources[("aws_xray_sampling_rule", "reconcile")]


def value(name: str, prefix: str = "") -> object:
    scope = Scope(root())
    if prefix:
        scope = Scope(root(), {"name_prefix": prefix})
    return evaluate(rule()[name], scope)


def test_the_rule_takes_its_reservoir_and_rate_from_pipeline_json() -> None:
    sampling = settings().xray_sampling
    assert value("reservoir_size") == sampling.reservoir_per_second
    assert float(value("fixed_rate")) == sampling.fixed_rate


def test_the_rule_is_scoped_to_this_stacks_state_machine() -> None:
    machine = settings().state_machine.name
    assert value("service_type") == "AWS::StepFunctions::StateMachine"
    assert value("service_name") == machine
    assert value("priority") < 10000  # evaluated before the account's Default rule


def test_the_rule_name_fits_xrays_32_characters_with_the_longest_prefix() -> None:
    assert len(str(value("rule_name", prefix="a" * 16))) <= 32
