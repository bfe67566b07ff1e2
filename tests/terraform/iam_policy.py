"""Just enough of IAM's policy evaluation to ask "may this role do that?" of policy documents in terraform/.

Statements come from `aws_iam_policy_document` data sources (parsed by tf_model, `source_policy_documents`
merged in), so the tests read the same documents Terraform renders. Evaluation follows AWS's rules for
one identity policy: an explicit Deny wins, else any Allow, else the implicit deny. Conditions support the
operators the repository uses; a missing key fails a positive operator and satisfies a negated one, as on
AWS. An operator this module does not know raises, so a test never passes on a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from tf_model import Module, ResourceRef, Scope, arn_of, blocks, evaluate, expression

ALLOW, DENY, IMPLICIT_DENY = "Allow", "Deny", "ImplicitDeny"


@dataclass(frozen=True)
class Condition:
    test: str
    variable: str
    values: tuple[str, ...]

    def holds(self, context: dict[str, str]) -> bool:
        value = context.get(self.variable)
        negated = self.test.startswith(("StringNot", "ArnNot"))
        if value is None:
            return negated
        if self.test in ("StringEquals", "ArnEquals", "StringNotEquals", "ArnNotEquals", "Bool"):
            matched = value in self.values
        elif self.test in ("StringLike", "ArnLike", "StringNotLike", "ArnNotLike"):
            matched = any(fnmatchcase(value, pattern) for pattern in self.values)
        else:
            raise ValueError(f"condition operator {self.test} is not modelled")
        return not matched if negated else matched


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...]

    def matches(self, action: str, resource: str, context: dict[str, str]) -> bool:
        return (
            any(fnmatchcase(action.lower(), pattern.lower()) for pattern in self.actions)
            and any(fnmatchcase(resource, pattern) for pattern in self.resources)
            and all(condition.holds(context) for condition in self.conditions)
        )

    def covers_action(self, action: str) -> bool:
        return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in self.actions)


def _text(value: Any) -> str:
    return arn_of(value) if isinstance(value, ResourceRef) else str(value)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def document(module: Module, name: str, scope: Scope | None = None) -> list[Statement]:
    """The statements of `data.aws_iam_policy_document.<name>`, with its source documents merged in."""
    scope = scope or Scope(module)
    body = module.data_of("aws_iam_policy_document")[name]
    found: list[Statement] = []
    raw_sources = body.get("source_policy_documents", [])
    for raw in raw_sources if isinstance(raw_sources, list) else [raw_sources]:
        # A document passed in as a variable was written in the calling module: look it up from there.
        origin = scope.caller if expression(raw).startswith("var.") else scope
        for source in _listed(evaluate(raw, scope)):
            found.extend(_source_document(source, origin))
    for raw in blocks(body, "statement"):
        statement = evaluate(raw, scope)
        found.append(
            Statement(
                sid=statement.get("sid", ""),
                effect=statement.get("effect", ALLOW),
                actions=tuple(_listed(statement.get("actions", []))),
                resources=tuple(_text(r) for r in _listed(statement.get("resources", ["*"]))),
                conditions=tuple(
                    Condition(c["test"], c["variable"], tuple(_text(v) for v in _listed(c["values"])))
                    for c in blocks(statement, "condition")
                ),
            )
        )
    return found


def _source_document(reference: str, scope: Scope | None) -> list[Statement]:
    """A `source_policy_documents` entry, a policy document of the module `scope` is in."""
    match = re.fullmatch(r"<data\.aws_iam_policy_document\.(\w+)\.json>", reference)
    if not match or scope is None:
        raise ValueError(f"source document {reference!r} is not an aws_iam_policy_document")
    return document(scope.module, match.group(1), scope)


def decide(
    statements: list[Statement], action: str, resource: str, context: dict[str, str] | None = None
) -> str:
    context = context or {}
    matching = [s for s in statements if s.matches(action, resource, context)]
    if any(s.effect == DENY for s in matching):
        return DENY
    return ALLOW if matching else IMPLICIT_DENY
