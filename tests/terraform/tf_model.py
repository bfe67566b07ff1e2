"""Reads terraform/ with python-hcl2 and evaluates the few expression shapes the modules use.

No Terraform binary exists here, so the tests read the configuration the way Terraform would for the
values that matter (names, limits, settings): references into pipeline.json through `local.config`,
`each.key`/`each.value` of a `for_each` over the workers, module variables bound by the calling module,
and `jsonencode({...})` objects. Anything else raises `Unsupported`, so a test fails loudly when the
configuration changes shape instead of passing on a guess.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

from pixelpipe.config import config_path

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = REPO_ROOT / "terraform"


class Unsupported(ValueError):
    """An expression this small evaluator does not understand."""


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def normalise(node: Any) -> Any:
    """hcl2 8.x output without quotes around labels and literals, and without `__is_block__`."""
    if isinstance(node, dict):
        return {_unquote(k): normalise(v) for k, v in node.items() if k != "__is_block__"}
    if isinstance(node, list):
        return [normalise(v) for v in node]
    return _unquote(node)


def parse_file(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return normalise(hcl2.load(handle))


def tf_files() -> list[Path]:
    return sorted(TERRAFORM.rglob("*.tf"))


@dataclass
class Module:
    """Everything declared in one directory of .tf files."""

    path: Path
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)

    def resources_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: body for (k, name), body in self.resources.items() if k == kind}

    def data_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: body for (k, name), body in self.data.items() if k == kind}


@cache
def load_module(directory: Path) -> Module:
    module = Module(directory)
    for path in sorted(directory.glob("*.tf")):
        parsed = parse_file(path)
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    module.resources[(kind, name)] = body
        for block in parsed.get("data", []):
            for kind, named in block.items():
                for name, body in named.items():
                    module.data[(kind, name)] = body
        for block in parsed.get("module", []):
            module.modules.update(block)
        for block in parsed.get("variable", []):
            module.variables.update(block)
        for block in parsed.get("output", []):
            module.outputs.update(block)
        for block in parsed.get("locals", []):
            module.locals.update({k: v for k, v in block.items() if k != "__comments__"})
    return module


def root() -> Module:
    return load_module(TERRAFORM)


def child(name: str) -> Module:
    return load_module(TERRAFORM / "modules" / name)


def module_dirs() -> list[Path]:
    return sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())


def pipeline_config() -> dict[str, Any]:
    """What Terraform's `jsondecode(file(".../pipeline.json"))` gives `local.config`: the file
    pixelpipe.config reads (a test's changed copy when it sets PIXELPIPE_CONFIG_FILE)."""
    return _read_json(config_path())


@cache
def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


# ---------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """Where an expression is evaluated: a module, its `each`, and the scope that called it."""

    module: Module
    arguments: dict[str, Any] | None = None  # the calling module block (for var.*)
    caller: Scope | None = None
    each_key: str | None = None
    each_value: Any = None
    names: tuple[tuple[str, Any], ...] = ()  # the variables of enclosing `for` expressions

    def bind(self, name: str, value: Any) -> Scope:
        return dataclasses.replace(self, names=(*self.names, (name, value)))

    def call(self, module_block: str, child_module: Module, each_key: str | None = None) -> Scope:
        """The scope inside `module "<module_block>"` of this module, for one for_each key."""
        arguments = self.module.modules[module_block]
        each_value = None
        if "for_each" in arguments:
            each_value = evaluate(arguments["for_each"], self)[each_key]
        caller = Scope(self.module, self.arguments, self.caller, each_key, each_value)
        return Scope(child_module, arguments, caller)

    def with_each(self, for_each: Any, key: str) -> Scope:
        return Scope(self.module, self.arguments, self.caller, key, evaluate(for_each, self)[key])


@dataclass(frozen=True)
class ResourceRef:
    """A reference to a resource attribute only AWS knows (an ARN, a URL), kept symbolic.

    `resource_name` is the resource's own name argument, evaluated, when the resource has one.
    """

    kind: str
    name: str
    key: str | None
    attribute: str
    resource_name: str | None = None


# Account, region and partition are data sources, known only to AWS: they stay symbolic in every ARN.
PARTITION = "<data.aws_partition.current.partition>"
REGION = "<data.aws_region.current.region>"
ACCOUNT = "<data.aws_caller_identity.current.account_id>"
_ARN_FORMATS = {
    "aws_s3_bucket": "arn:{partition}:s3:::{name}",
    "aws_dynamodb_table": "arn:{partition}:dynamodb:{region}:{account}:table/{name}",
    "aws_sns_topic": "arn:{partition}:sns:{region}:{account}:{name}",
    "aws_sqs_queue": "arn:{partition}:sqs:{region}:{account}:{name}",
    "aws_sfn_state_machine": "arn:{partition}:states:{region}:{account}:stateMachine:{name}",
    "aws_cloudwatch_log_group": "arn:{partition}:logs:{region}:{account}:log-group:{name}",
    "aws_lambda_function": "arn:{partition}:lambda:{region}:{account}:function:{name}",
    "aws_iam_role": "arn:{partition}:iam::{account}:role/{name}",
    "aws_iam_policy": "arn:{partition}:iam::{account}:policy/{name}",
    "aws_cloudwatch_event_bus": "arn:{partition}:events:{region}:{account}:event-bus/{name}",
}


def arn_of(ref: ResourceRef) -> str:
    """The ARN AWS gives the named resource, with account, region and partition symbolic."""
    if ref.attribute != "arn" or ref.resource_name is None or ref.kind not in _ARN_FORMATS:
        raise Unsupported(f"no ARN for {ref}")
    return _ARN_FORMATS[ref.kind].format(
        partition=PARTITION, region=REGION, account=ACCOUNT, name=ref.resource_name
    )


def _encode_ref(value: Any) -> Any:
    if isinstance(value, ResourceRef):
        return {"__ref__": [value.kind, value.name, value.key, value.attribute, value.resource_name]}
    raise TypeError(type(value))


def decode_ref(value: Any) -> ResourceRef:
    """A ResourceRef that went through jsonencode (e.g. a DLQ ARN inside a redrive policy)."""
    return ResourceRef(*value["__ref__"])


NAME_ARGUMENTS = ("name", "bucket", "function_name", "dashboard_name")


def _resource(scope: Scope, kind: str, name: str, key: str | None, attribute: str) -> Any:
    body = scope.module.resources.get((kind, name))
    if body is None:
        return ResourceRef(kind, name, key, attribute)
    inner = scope.with_each(body["for_each"], key) if key is not None and "for_each" in body else scope
    resource_name = next((evaluate(body[a], inner) for a in NAME_ARGUMENTS if a in body), None)
    if attribute in NAME_ARGUMENTS:
        return resource_name
    if attribute in body:
        return evaluate(body[attribute], inner)
    return ResourceRef(kind, name, key, attribute, resource_name)


def _module_output(scope: Scope, block: str, key: str | None, output: str) -> Any:
    arguments = scope.module.modules[block]
    child_module = load_module((scope.module.path / arguments["source"]).resolve())
    inner = scope.call(block, child_module, key)
    return evaluate(child_module.outputs[output]["value"], inner)


def _split_conditional(text: str) -> tuple[str, str, str] | None:
    parts = _split_top_level(text, "?")
    if len(parts) != 2:
        return None
    branches = _split_top_level(parts[1], ":")
    if len(branches) != 2:
        return None
    return parts[0], branches[0], branches[1]


_PATH_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_-]*)|\[([^\]]+)\]")


def _split_path(expression: str) -> list[str]:
    parts, position = [], 0
    while position < len(expression):
        match = _PATH_TOKEN.match(expression, position)
        if not match:
            raise Unsupported(expression)
        parts.append(match.group(1) if match.group(1) is not None else "[" + match.group(2) + "]")
        position = match.end()
    return parts


def _index(value: Any, accessor: str, scope: Scope) -> Any:
    if accessor.startswith("["):
        key = evaluate_expression(accessor[1:-1], scope)
        return value[key]
    return value[accessor]


def _split_top_level(text: str, separator: str = ",") -> list[str]:
    parts, depth, current, quoted = [], 0, "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if not quoted and char in "([{":
            depth += 1
        if not quoted and char in ")]}":
            depth -= 1
        if char == separator and depth == 0 and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts]


def _object_literal(text: str, scope: Scope) -> dict[str, Any]:
    body = text.strip()[1:-1]
    result = {}
    for item in _split_top_level(body.replace("\n", ",")):
        if not item:
            continue
        key, value = (p.strip() for p in item.split("=", 1))
        key = evaluate_expression(key[1:-1], scope) if key.startswith("(") else key.strip('"')
        result[key] = evaluate_expression(value, scope)
    return result


def _for_items(header: str, scope: Scope) -> list[Scope]:
    """The scopes of `for NAME in COLLECTION` or `for KEY, VALUE in COLLECTION`, one per element."""
    names, collection = (part.strip() for part in header.split(" in ", 1))
    value = evaluate_expression(collection, scope)
    pairs = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    if "," in names:
        key_name, value_name = (n.strip() for n in names.split(",", 1))
        return [scope.bind(key_name, k).bind(value_name, v) for k, v in pairs]
    return [scope.bind(names, v) for _, v in pairs]


def _for_list(text: str, scope: Scope) -> list[Any]:
    """`[for NAME in COLLECTION : BODY]` or `[for NAME in COLLECTION : BODY if CONDITION]` (or KEY, VALUE)."""
    header, *rest = _split_top_level(text[len("[for") : -1], ":")
    body, condition = _split_if(":".join(rest))
    return [
        evaluate_expression(body, inner)
        for inner in _for_items(header, scope)
        if condition is None or evaluate_expression(condition, inner)
    ]


def _for_object(text: str, scope: Scope) -> dict[str, Any]:
    """`{for HEADER : KEY => VALUE}`, optionally with `if CONDITION` (evaluated first, as Terraform does)."""
    header, *rest = _split_top_level(text[len("{for") : -1], ":")
    body, condition = _split_if(":".join(rest))
    key, value = (part.strip() for part in body.split("=>", 1))
    return {
        evaluate_expression(key, inner): evaluate_expression(value, inner)
        for inner in _for_items(header, scope)
        if condition is None or evaluate_expression(condition, inner)
    }


def _split_if(text: str) -> tuple[str, str | None]:
    depth, quoted = 0, False
    for position, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "([{":
            depth += 1
        elif not quoted and char in ")]}":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(" if ", position):
            return text[:position].strip(), text[position + 4 :].strip()
    return text.strip(), None


def _can(text: str, scope: Scope) -> bool:
    try:
        evaluate_expression(text, scope)
    except (KeyError, IndexError, TypeError, Unsupported):
        return False
    return True


def evaluate_expression(text: str, scope: Scope) -> Any:
    text = text.strip()
    if text.startswith("[for ") and text.endswith("]"):
        return _for_list(text, scope)
    if text.startswith("{for ") and text.endswith("}"):
        return _for_object(text, scope)
    if text.startswith("can(") and text.endswith(")"):
        return _can(text[4:-1], scope)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if text.startswith('"') and text.endswith('"'):
        return evaluate(text[1:-1], scope)
    if text.startswith("[") and text.endswith("]"):
        return [evaluate_expression(item, scope) for item in _split_top_level(text[1:-1]) if item]
    if text.startswith("{") and text.endswith("}") and not text.startswith("{for"):
        return _object_literal(text, scope)
    if text.startswith("(") and text.endswith(")"):
        return evaluate_expression(text[1:-1], scope)
    conditional = _split_conditional(text)
    if conditional:
        condition, when_true, when_false = conditional
        return evaluate_expression(when_true if evaluate_expression(condition, scope) else when_false, scope)
    comparison = re.fullmatch(r"([A-Za-z_][\w.\[\]\"]*)\s*(==|!=)\s*(\S+)", text)
    if comparison:
        left, operator, right = comparison.groups()
        equal = evaluate_expression(left, scope) == evaluate_expression(right, scope)
        return equal if operator == "==" else not equal
    division = re.fullmatch(r"(.+?)\s*/\s*(\d+)", text)
    if division and "(" not in division.group(1):
        return evaluate_expression(division.group(1), scope) / int(division.group(2))
    product = re.fullmatch(r"(.+?)\s*\*\s*(\d+)", text)
    if product and "(" not in product.group(1):
        return evaluate_expression(product.group(1), scope) * int(product.group(2))
    functions = "jsonencode|merge|lookup|ceil|concat|flatten|values|keys|one|join"
    call = re.fullmatch(rf"({functions})\((.*)\)", text, re.S)
    if call:
        arguments = [evaluate_expression(a, scope) for a in _split_top_level(call.group(2))]
        if call.group(1) == "jsonencode":
            return json.dumps(arguments[0], separators=(",", ":"), default=_encode_ref)
        if call.group(1) == "one":
            if len(arguments[0]) > 1:
                raise Unsupported(f"one() of {len(arguments[0])} elements: {text}")
            return arguments[0][0] if arguments[0] else None
        if call.group(1) == "join":
            return arguments[0].join(arguments[1])
        if call.group(1) == "ceil":
            return math.ceil(arguments[0])
        if call.group(1) == "concat":
            return [item for argument in arguments for item in argument]
        if call.group(1) == "flatten":
            return [item for argument in arguments[0] for item in argument]
        if call.group(1) in ("values", "keys"):
            return list(getattr(arguments[0], call.group(1))())
        if call.group(1) == "merge":
            return {k: v for argument in arguments for k, v in argument.items()}
        return arguments[0].get(arguments[1], arguments[2])
    parts = _split_path(text)
    head = parts[0]
    bound = dict(scope.names)
    if head in bound:
        value = bound[head]
        for accessor in parts[1:]:
            value = _index(value, accessor, scope)
        return value
    if head == "each":
        value: Any = {"key": scope.each_key, "value": scope.each_value}
        for accessor in parts[1:]:
            value = _index(value, accessor, scope)
        return value
    if head == "var":
        name = parts[1]
        if scope.arguments is not None and name in scope.arguments:
            value = evaluate(scope.arguments[name], scope.caller)
        elif "default" in scope.module.variables.get(name, {}):
            value = scope.module.variables[name]["default"]
        else:
            raise Unsupported(f"var.{name} has no value in {scope.module.path}")
        for accessor in parts[2:]:
            value = _index(value, accessor, scope)
        return value
    if head == "local":
        name = parts[1]
        value = pipeline_config() if name == "config" else evaluate(scope.module.locals[name], scope)
        for accessor in parts[2:]:
            value = _index(value, accessor, scope)
        return value
    if head == "path" and parts[1] in ("module", "root"):
        return str((scope.module.path if parts[1] == "module" else TERRAFORM).resolve())
    if head == "data":
        return f"<{text}>"  # a data source's value: known only to AWS; kept as its reference text
    if head == "module":
        rest = parts[2:]
        key = None
        if rest[0].startswith("["):
            key = evaluate_expression(rest[0][1:-1], scope)
            rest = rest[1:]
        value = _module_output(scope, parts[1], key, rest[0])
        for accessor in rest[1:]:
            value = _index(value, accessor, scope)
        return value
    if head.startswith("aws_") and len(parts) >= 3:
        key = None
        rest = parts[2:]
        if rest[0].startswith("["):
            key = evaluate_expression(rest[0][1:-1], scope)
            rest = rest[1:]
        return _resource(scope, head, parts[1], key, ".".join(rest))
    raise Unsupported(text)


def _single_expression(value: str) -> str | None:
    """The inside of `${...}` when the whole string is one interpolation (nested ones allowed)."""
    if not value.startswith("${"):
        return None
    depth, quoted = 0, False
    for position, char in enumerate(value[1:], start=1):
        if char == '"' and value[position - 1] != "\\":
            quoted = not quoted
        if quoted:
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return value[2:-1].strip() if position == len(value) - 1 else None
    return None


def evaluate(value: Any, scope: Scope) -> Any:
    """An hcl2 value: a literal, a `${...}` expression, a template string, a list or an object."""
    if isinstance(value, list):
        return [evaluate(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: evaluate(v, scope) for k, v in value.items() if k != "__comments__"}
    if not isinstance(value, str):
        return value
    inner = _single_expression(value)
    if inner is not None:
        return evaluate_expression(inner, scope)

    def substitute(match: re.Match[str]) -> str:
        result = evaluate_expression(match.group(1), scope)
        if isinstance(result, ResourceRef):
            return arn_of(result)
        if isinstance(result, dict | list):
            raise Unsupported(value)
        return str(result)

    return re.sub(r"\$\{([^{}]*)\}", substitute, value)


def expression(value: Any) -> str:
    """The source text of a `${...}` expression (for tests that check a reference, not a value)."""
    inner = _single_expression(value) if isinstance(value, str) else None
    if inner is not None:
        return inner
    return value if isinstance(value, str) else json.dumps(value)


def comments(block: dict[str, Any]) -> list[str]:
    return [c["value"] for c in block.get("__comments__", [])]


def blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]
