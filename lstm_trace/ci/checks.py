"""Running a spec's models and reporting: per model and expectation, pass or fail; JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from ..cell import BlockObserver
from ..cli.resolve import resolve
from ..config import DEFAULT_MAX_MEMORY, LSTMConfig
from ..errors import LSTMTraceError
from ..trace import trace
from .expect import Outcome, check_trace
from .spec import ModelSpec

#: a model's configuration and name -> the observers of its pass, while it runs
Progress = Callable[[LSTMConfig, str], AbstractContextManager[list[BlockObserver]]]


@dataclass(frozen=True)
class ModelResult:
    """A model's outcomes, or the error that kept it from running."""

    spec: ModelSpec
    outcomes: list[Outcome]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(o.passed for o in self.outcomes)


def run_models(
    models: list[ModelSpec],
    max_memory: int = DEFAULT_MAX_MEMORY,
    progress: Progress | None = None,
) -> list[ModelResult]:
    """Trace each model (default steps, no samples: shapes do not depend on values) and check
    its expectations. A model that cannot run fails with its error; the others still run.
    progress(config, name), when given, holds the observers of each model's pass (a bar)."""
    results = []
    for model in models:
        try:
            run = resolve(
                model.options, model.weights, model.x, max_memory=max_memory, module=model.module
            )
            with progress(run.config, model.name) if progress else nullcontext([]) as seen:
                result = trace(
                    run.config, run.weights, run.x, samples=0, max_memory=max_memory, observers=seen
                )
            results.append(ModelResult(model, check_trace(result, model.expectations)))
        except LSTMTraceError as exc:
            results.append(ModelResult(model, [], error=exc.message))
        except Exception as exc:  # one broken model must not hide the others' results
            results.append(ModelResult(model, [], error=f"{type(exc).__name__}: {exc}"))
    return results


def results_dict(spec: str, results: list[ModelResult]) -> dict[str, Any]:
    """The --format json report."""
    return {
        "schema_version": 1,
        "spec": spec,
        "passed": all(r.passed for r in results),
        "models": [
            {
                "name": r.spec.name,
                "passed": r.passed,
                "error": r.error,
                "expectations": [
                    {
                        "name": o.expectation.label,
                        "expected": o.expectation.expected,
                        "got": o.got,
                        "passed": o.passed,
                        "message": o.message or None,
                    }
                    for o in r.outcomes
                ],
            }
            for r in results
        ],
    }


_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r")


def _xml_text(text: str) -> str:
    """XML 1.0 cannot hold most control characters, even escaped: drop them."""
    return text.translate(_CONTROL)


def junit_xml(spec: str, results: list[ModelResult]) -> str:
    """JUnit XML: a testsuite per spec, a testcase per expectation (or per model that errored)."""
    cases = sum(max(len(r.outcomes), 1 if r.error else 0) for r in results)
    failures = sum(1 for r in results for o in r.outcomes if not o.passed)
    errors = sum(1 for r in results if r.error)
    counts = {"tests": str(cases), "failures": str(failures), "errors": str(errors)}
    root = ET.Element("testsuites", {"name": "lstm-trace", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": _xml_text(spec), **counts})
    for r in results:
        classname = _xml_text(f"lstm-trace.{r.spec.name}")
        if r.error:
            case = ET.SubElement(
                suite, "testcase", {"classname": classname, "name": "configuration"}
            )
            error = _xml_text(r.error)
            ET.SubElement(case, "error", {"message": error}).text = error
        for o in r.outcomes:
            name = _xml_text(f"{o.expectation.label} {o.expectation.expected}")
            case = ET.SubElement(suite, "testcase", {"classname": classname, "name": name})
            if not o.passed:
                message = _xml_text(o.message)
                ET.SubElement(case, "failure", {"message": message}).text = message
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
