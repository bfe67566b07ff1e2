"""What a job's steps recorded, for the steps no view has a panel of its own for.

Thumbnails and labels have dedicated panels (`pixelpipe job`, the console's job page). Every other
worker's `result_field` in pipeline.json is shown as a flat list of its values, so a worker added to the
config is visible in both views without view code of its own. The values are record data: the views
show them escaped, like every other field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pixelpipe.config import settings

# The result fields the views draw themselves (render.job_panel; the console's _job_details.html).
DEDICATED_VIEWS = frozenset({"thumbnails", "labels"})
MAX_ROWS = 40  # a result is a summary; a runaway one is cut, not printed in full


@dataclass(frozen=True)
class StepResult:
    step: str
    field: str
    rows: list[tuple[str, str]]


def other_results(job: dict[str, Any]) -> list[StepResult]:
    """The recorded results of the job's steps without a dedicated view, in config order."""
    results = []
    for step, worker in settings().workers.items():
        value = job.get(worker.result_field)
        if worker.result_field in DEDICATED_VIEWS or value is None:
            continue
        rows = flatten(value)
        if len(rows) > MAX_ROWS:
            rows = [*rows[: MAX_ROWS - 1], ("…", f"{len(rows) - MAX_ROWS + 1} more values")]
        results.append(StepResult(step, worker.result_field, rows))
    return results


def flatten(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(dotted path, text) for every value inside `value`; a list item that is a flat map is one row
    (`hex: #8d674c, share: 0.295`), an empty map or list is one row of "—"."""
    if isinstance(value, dict) and value:
        return [
            row for key, item in value.items() for row in flatten(item, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, list) and value:
        return [row for index, item in enumerate(value) for row in _item(item, f"{path}[{index}]")]
    if isinstance(value, (dict, list)):
        return [(path, "—")]
    return [(path, _text(value))]


def _item(item: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(item, dict) and item and not any(isinstance(v, (dict, list)) for v in item.values()):
        return [(path, ", ".join(f"{key}: {_text(v)}" for key, v in item.items()))]
    return flatten(item, path)


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)
