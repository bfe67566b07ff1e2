"""Preconditions as data: one value that a DynamoDB adapter renders as a ConditionExpression and a
test (or an in-memory store) evaluates on a plain record.

Only what the job lifecycle needs: equality, IN, <=, >, attribute_not_exists, AND, OR, NOT. Evaluation
follows DynamoDB's rules for a missing attribute: every comparison with it is false.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    """A value (or, inside a path, an attribute name) the caller supplies: the step, the attempt, a time."""

    name: str


@dataclass(frozen=True)
class Field:
    """An attribute path in the record, e.g. ("steps", Param("step"), "status")."""

    path: tuple[str | Param, ...]

    def __truediv__(self, segment: str | Param) -> Field:
        return Field((*self.path, segment))


def field(*path: str | Param) -> Field:
    return Field(tuple(path))


Operand = str | int | Param | Field


@dataclass(frozen=True)
class Equals:
    left: Field
    right: Operand


@dataclass(frozen=True)
class IsIn:
    left: Field
    choices: tuple[Operand, ...]


@dataclass(frozen=True)
class AtMost:
    left: Field
    right: Operand


@dataclass(frozen=True)
class Greater:
    left: Field
    right: Operand


@dataclass(frozen=True)
class Absent:
    """attribute_not_exists."""

    left: Field


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


Condition = Equals | IsIn | AtMost | Greater | Absent | AllOf | AnyOf | Not


def all_of(*parts: Condition) -> Condition:
    """AND of the parts, nested ANDs flattened (so `all_of(GUARD, extra)` reads as one list)."""
    flat: list[Condition] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, AllOf) else [part])
    return flat[0] if len(flat) == 1 else AllOf(tuple(flat))


_MISSING = object()


def resolve(path: tuple[str | Param, ...], params: dict[str, Any]) -> tuple[str, ...]:
    """The concrete attribute names of a path, its parameters filled in."""
    return tuple(params[s.name] if isinstance(s, Param) else s for s in path)


def _lookup(record: dict[str, Any], target: Field, params: dict[str, Any]) -> Any:
    value: Any = record
    for name in resolve(target.path, params):
        if not isinstance(value, dict) or name not in value or value[name] is None:
            return _MISSING
        value = value[name]
    return value


def _operand(record: dict[str, Any], operand: Operand, params: dict[str, Any]) -> Any:
    if isinstance(operand, Field):
        return _lookup(record, operand, params)
    if isinstance(operand, Param):
        return params[operand.name]
    return operand


def _compare(left: Any, right: Any, test: Any) -> bool:
    if left is _MISSING or right is _MISSING or isinstance(left, str) != isinstance(right, str):
        return False  # DynamoDB: a missing attribute or another type never compares true
    return bool(test(left, right))


def holds(condition: Condition, record: dict[str, Any], params: dict[str, Any] | None = None) -> bool:
    """Whether DynamoDB would accept a conditional write on `record` (a plain, deserialised item)."""
    params = params or {}
    match condition:
        case Equals(left, right):
            return _compare(_lookup(record, left, params), _operand(record, right, params), _eq)
        case IsIn(left, choices):
            value = _lookup(record, left, params)
            return any(_compare(value, _operand(record, c, params), _eq) for c in choices)
        case AtMost(left, right):
            return _compare(_lookup(record, left, params), _operand(record, right, params), _le)
        case Greater(left, right):
            return _compare(_lookup(record, left, params), _operand(record, right, params), _gt)
        case Absent(left):
            return _lookup(record, left, params) is _MISSING
        case AllOf(parts):
            return all(holds(part, record, params) for part in parts)
        case AnyOf(parts):
            return any(holds(part, record, params) for part in parts)
        case Not(part):
            return not holds(part, record, params)
    raise TypeError(f"not a condition: {condition!r}")


def _eq(a: Any, b: Any) -> bool:
    return a == b


def _le(a: Any, b: Any) -> bool:
    return a <= b


def _gt(a: Any, b: Any) -> bool:
    return a > b


def params_of(condition: Condition) -> set[str]:
    """The parameters a condition needs, in paths and values."""
    match condition:
        case AllOf(parts) | AnyOf(parts):
            return set().union(*(params_of(p) for p in parts))
        case Not(part):
            return params_of(part)
        case Absent(left):
            return _operand_params(left)
        case IsIn(left, choices):
            return _operand_params(left).union(*(_operand_params(c) for c in choices))
        case Equals(left, right) | AtMost(left, right) | Greater(left, right):
            return _operand_params(left) | _operand_params(right)
    raise TypeError(f"not a condition: {condition!r}")


def _operand_params(operand: Operand) -> set[str]:
    if isinstance(operand, Param):
        return {operand.name}
    if isinstance(operand, Field):
        return {s.name for s in operand.path if isinstance(s, Param)}
    return set()
