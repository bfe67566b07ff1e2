"""Conditions (pixelpipe.logic.conditions) rendered for DynamoDB, with the names and values they use.

DynamoDB rejects a name or value an expression does not use, so an `Expression` hands out placeholders
as the expressions are written and its `names`/`values` hold exactly those. The placeholder of a
status is its lower-case name (`:pending`), a step status that a job status also spells gets `step_`
(`:step_pending`): the reconcile state machine's ASL spells them the same way.
"""

from __future__ import annotations

from typing import Any

from pixelpipe.adapters.dynamo_types import to_typed
from pixelpipe.logic.conditions import (
    Absent,
    AllOf,
    AnyOf,
    AtMost,
    Condition,
    Equals,
    Field,
    Greater,
    IsIn,
    Not,
    Operand,
    Param,
)
from pixelpipe.logic.lifecycle import JobStatus, StepStatus

# Attribute names DynamoDB reserves (of those the record uses): always written through a #name.
_RESERVED = {"status", "error"}
_NUMBER_NAMES = {0: "zero", 1: "one"}


def value_placeholder(value: str | int | Param) -> str:
    if isinstance(value, Param):
        return f":{value.name}"
    if isinstance(value, StepStatus) and value.value in JobStatus.__members__:
        return f":step_{value.value.lower()}"
    if isinstance(value, (JobStatus, StepStatus)):
        return f":{value.value.lower()}"
    if isinstance(value, int):
        return f":{_NUMBER_NAMES.get(value, f'n{value}')}"
    raise TypeError(f"no placeholder for a literal {value!r}: pass it as a Param")


class Expression:
    """Placeholders for one request; `params` fills in the conditions' parameters."""

    def __init__(self, **params: Any) -> None:
        self.params = params
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def path(self, target: Field) -> str:
        parts = []
        for segment in target.path:
            if isinstance(segment, Param):
                parts.append(self.name(segment.name, self.params[segment.name]))
            elif segment in _RESERVED:
                parts.append(self.name(segment, segment))
            else:
                parts.append(segment)
        return ".".join(parts)

    def name(self, alias: str, attribute: str) -> str:
        self.names[f"#{alias}"] = attribute
        return f"#{alias}"

    def value(self, value: Any, placeholder: str | None = None) -> str:
        """The placeholder of a status, number or parameter, or of any other value under `placeholder`."""
        key = placeholder or value_placeholder(value)
        plain = self.params[value.name] if isinstance(value, Param) else value
        self.values[key] = to_typed(plain.value if isinstance(plain, (JobStatus, StepStatus)) else plain)
        return key

    def operand(self, operand: Operand) -> str:
        return self.path(operand) if isinstance(operand, Field) else self.value(operand)

    def condition(self, condition: Condition) -> str:
        match condition:
            case Equals(left, right):
                return f"{self.path(left)} = {self.operand(right)}"
            case AtMost(left, right):
                return f"{self.path(left)} <= {self.operand(right)}"
            case Greater(left, right):
                return f"{self.path(left)} > {self.operand(right)}"
            case IsIn(left, choices):
                return f"{self.path(left)} IN ({', '.join(self.operand(c) for c in choices)})"
            case Absent(left):
                return f"attribute_not_exists({self.path(left)})"
            case AllOf(parts):
                return " AND ".join(self._nested(p, AnyOf) for p in parts)
            case AnyOf(parts):
                return " OR ".join(self._nested(p, AllOf) for p in parts)
            case Not(part):
                return f"NOT ({self.condition(part)})"
        raise TypeError(f"not a condition: {condition!r}")

    def _nested(self, part: Condition, needs_parentheses: type) -> str:
        text = self.condition(part)
        return f"({text})" if isinstance(part, needs_parentheses) else text

    def request(self, **expressions: str) -> dict[str, Any]:
        """update_item/query keyword arguments: the expressions given plus the names and values used."""
        kwargs: dict[str, Any] = dict(expressions)
        if self.names:
            kwargs["ExpressionAttributeNames"] = self.names
        if self.values:
            kwargs["ExpressionAttributeValues"] = self.values
        return kwargs
