"""Expectations for CI: 'output=10,140', 'W_f=(70, 102)', 'params.keras=57680'.

A NAME is output, h_n or (an LSTM's) c_n; a hook point of the cell (x, concat, input_gate,
...; a GRU's reset_gate, ...), checked at every traced step, layer and direction; a parameter
name of the cell (W_f, b_o, W_hr; a GRU's W_r, W_in, b_hn, ...), checked at every layer and
direction; or params.keras / params.pytorch / params.onnx. 'NAME@k' limits a tensor or
parameter to layer k. A VALUE is a shape, '10,140' or '(10, 140)', with '*' for any one
dimension, or a bare integer: a count of elements (of parameters, for params.*).

'finite' (no VALUE; ``finite = true`` in a spec file, ``finite=True`` in assert_shapes) fails
when any value the pass computed, at any step, layer and direction, is NaN or Inf: every gate
and the inputs and initial states, as gate health scans them (health.first_nonfinite), or
any weight (an Inf bias can saturate its gate and reach no value the pass computes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..cells import CELLS, ParamCount
from ..config import LSTMConfig
from ..errors import LSTMTraceError
from ..health import nonfinite_weight
from ..parameters import output_shapes, parameters
from ..records import TensorRecord
from ..trace import Trace
from ..trace import trace as run_trace
from ..weights import LSTMWeights

OUTPUT_NAMES = ("output", "h_n", "c_n")
COUNT_NAMES = ("params.keras", "params.pytorch", "params.onnx")
#: the expectation that every computed value is finite
FINITE = "finite"

Shape = tuple[int, ...]
Pattern = tuple[int | None, ...]  # None matches any one dimension


class ExpectationError(LSTMTraceError):
    """A malformed expectation or an unknown name (a usage mistake: exit status 2)."""


@dataclass(frozen=True)
class Expectation:
    """One expectation: a NAME (with an optional layer) and either a shape or a count; or
    'finite' (neither), that no computed value is NaN or Inf."""

    name: str
    layer: int | None = None
    shape: Pattern | None = None
    count: int | None = None

    @property
    def label(self) -> str:
        return self.name if self.layer is None else f"{self.name}@{self.layer}"

    @property
    def expected(self) -> str:
        if self.name == FINITE:
            return "every value finite"
        if self.shape is not None:
            return shape_text(self.shape)
        if self.name in COUNT_NAMES:
            return f"{self.count:,}"
        return f"{self.count:,} elements"  # not '70', which reads like a shape


def shape_text(shape: Sequence[int | None]) -> str:
    """(10, None) -> '(10, *)'; (70,) -> '(70,)'."""
    parts = ["*" if d is None else str(d) for d in shape]
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"


_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*?)(?:@([0-9]{1,9}))?$")
_WHOLE = re.compile(r"[0-9]{1,18}")  # ASCII digits only, and a size no array reaches


def parse(text: str) -> Expectation:
    """'NAME=VALUE' or 'finite' -> Expectation; a malformed one raises ExpectationError."""
    if text.strip() == FINITE:
        return Expectation(FINITE)
    if "=" not in text:
        raise ExpectationError(
            f"--expect {text!r}: expected NAME=VALUE, e.g. output=10,140 or params.keras=28840, "
            "or finite"
        )
    name, value = (part.strip() for part in text.split("=", 1))
    if name == FINITE:
        raise ExpectationError(f"--expect {text}: finite takes no value; write --expect finite")
    return expectation(name, value)


def expectation(name: str, value: object) -> Expectation:
    """Build an Expectation from a NAME and a VALUE (text, an int, or a list of ints/'*')."""
    m = _NAME.match(name)
    if not m:
        raise ExpectationError(f"--expect {name!r}: not a name such as output, W_f or concat@1")
    base, layer = m.group(1), (int(m.group(2)) if m.group(2) is not None else None)
    if base == FINITE:
        if layer is not None:
            raise ExpectationError(f"--expect {name}: finite covers every layer; drop @{layer}")
        if value is not True:
            raise ExpectationError(f"--expect {name}: expected true, got {value!r}")
        return Expectation(FINITE)
    if layer is not None and (base in OUTPUT_NAMES or base in COUNT_NAMES):
        raise ExpectationError(f"--expect {name}: @layer applies to tensors and weights only")
    if isinstance(value, bool):
        raise ExpectationError(f"--expect {name}: {value!r} is neither a shape nor a count")
    if isinstance(value, int):
        return Expectation(base, layer, count=_count(name, value))
    if isinstance(value, (list, tuple)):
        return Expectation(base, layer, shape=tuple(_dim(name, str(v)) for v in value))
    text = str(value).strip().replace("_", "")
    if _WHOLE.fullmatch(text):  # a bare whole number is a count of elements (or parameters)
        return Expectation(base, layer, count=int(text))
    inner = text[1:-1] if text.startswith("(") and text.endswith(")") else text
    dims = [d.strip() for d in inner.split(",")]
    if len(dims) > 1 and dims[-1] == "":
        dims.pop()  # '(70,)' and '70,' are one-dimensional
    if base in COUNT_NAMES or not inner.strip():
        what = "a count such as 28840" if base in COUNT_NAMES else "a shape such as 10,140"
        raise ExpectationError(f"--expect {name}={value}: expected {what}")
    return Expectation(base, layer, shape=tuple(_dim(name, d) for d in dims))


def _dim(name: str, text: str) -> int | None:
    text = text.strip()
    if text == "*":
        return None
    if not _WHOLE.fullmatch(text):
        raise ExpectationError(
            f"--expect {name}: {text!r} is not a dimension (a whole number or '*')"
        )
    return int(text)


def _count(name: str, value: int) -> int:
    if value < 0:
        raise ExpectationError(f"--expect {name}: a count cannot be negative ({value})")
    return value


def valid_names(config: LSTMConfig) -> list[str]:
    """Every NAME an expectation may use for this configuration."""
    weights = list(dict.fromkeys(p.name for p in parameters(config)))
    outputs = list(output_shapes(config))
    return [*outputs, *config.kind.hook_points, *weights, *COUNT_NAMES, FINITE]


def _a(title: str) -> str:
    """'an LSTM', 'a GRU': an initialism takes 'an' when its first letter sounds a vowel."""
    return ("an " if title[0] in "AEFHILMNORSX" else "a ") + title


def _unknown(e: Expectation, config: LSTMConfig, names: list[str]) -> str:
    """Why a name is not this configuration's: an option it needs, or another cell's name."""
    cell = config.kind
    options: dict[str, dict[str, Any]] = {
        "biases; this {} has none": {"bias": True},
        "--reset-after": {"reset_after": True},
        "--proj": {"proj_size": 1},
        "--peepholes": {"peepholes": True},
    }
    for needs, change in options.items():
        try:
            variant = replace(config, **change)
        except LSTMTraceError:
            continue  # an option this cell does not take
        if e.name in {p.name for p in parameters(variant)}:
            return f"{e.name} exists only with {needs.format(cell.title)}"
    for other in CELLS.values():
        if other is cell:
            continue
        other_config = LSTMConfig(cell=other.name)
        theirs = {*other.hook_points, *(p.name for p in parameters(other_config)), "c_n"}
        if e.name in theirs and e.name not in names:
            mine = [n for n in names if n not in (*COUNT_NAMES, FINITE)]
            return (
                f"{e.name} is {_a(other.title)}'s name, not {_a(cell.title)}'s; this "
                f"{cell.title} has {', '.join(mine)}"
            )
    return f"no such name; valid names: {', '.join(names)}"


@dataclass(frozen=True)
class Outcome:
    """The result of one expectation; message is set on failure."""

    expectation: Expectation
    got: str
    passed: bool
    message: str = ""


@dataclass
class Checker:
    """Checks expectations against a trace; tensors may be fed one record at a time, so a
    streamed (JSONL) run is checked without keeping its records."""

    config: LSTMConfig
    expectations: Sequence[Expectation]
    #: distinct shapes seen per (tensor name, layer), in first-seen order
    seen: dict[tuple[str, int], list[Shape]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = valid_names(self.config)
        for e in self.expectations:
            if e.name not in names:
                raise ExpectationError(f"--expect {e.label}: {_unknown(e, self.config, names)}")
            if e.layer is not None and e.layer >= self.config.num_layers:
                raise ExpectationError(
                    f"--expect {e.label}: layer {e.layer} does not exist "
                    f"(layers 0 to {self.config.num_layers - 1})"
                )

    def observe(self, record: TensorRecord) -> None:
        shapes = self.seen.setdefault((record.name, record.layer), [])
        if record.shape not in shapes:
            shapes.append(record.shape)

    def observe_all(self, records: Iterable[TensorRecord]) -> None:
        for r in records:
            self.observe(r)

    def finish(
        self,
        outputs: Mapping[str, Shape],
        counts: ParamCount,
        health: Mapping[str, Any] | None = None,
        weights: LSTMWeights | None = None,
    ) -> list[Outcome]:
        """Evaluate every expectation once the run is over; health is the trace's gate health
        (Trace.health) and weights the traced weights, which 'finite' reads."""
        shapes: dict[tuple[str, int], list[Shape]] = {}
        for p in parameters(self.config):
            seen = shapes.setdefault((p.name, p.layer), [])
            if p.shape not in seen:
                seen.append(p.shape)
        bad_weight = None
        if weights is not None and any(e.name == FINITE for e in self.expectations):
            bad_weight = nonfinite_weight(weights)
        return [
            _finite(e, health, bad_weight)
            if e.name == FINITE
            else self._one(e, outputs, counts, shapes)
            for e in self.expectations
        ]

    def _one(
        self,
        e: Expectation,
        outputs: Mapping[str, Shape],
        counts: ParamCount,
        weights: Mapping[tuple[str, int], list[Shape]],
    ) -> Outcome:
        if e.name in COUNT_NAMES:
            framework = e.name.removeprefix("params.")
            got_count = getattr(counts, framework)
            if got_count is None:
                why = self.config.kind.unsupported(self.config).get(framework, "no such layer")
                return Outcome(
                    e, "none", False, f"expected {e.name} {e.expected}, got none ({why})"
                )
            ok = got_count == e.count
            return Outcome(
                e,
                f"{got_count:,}",
                ok,
                "" if ok else f"expected {e.name} {e.expected}, got {got_count:,}",
            )
        if e.name in OUTPUT_NAMES:
            places: dict[int | None, list[Shape]] = {None: [tuple(outputs[e.name])]}
        else:
            table = weights if e.name not in self.config.kind.hook_points else self.seen
            places = {
                layer: shapes
                for (name, layer), shapes in table.items()
                if name == e.name and (e.layer is None or layer == e.layer)
            }
        if not any(places.values()):
            return Outcome(
                e, "not traced", False, f"expected {e.label} {e.expected}, but it was not traced"
            )
        wrong = [
            (layer, shape)
            for layer, shapes in places.items()
            for shape in shapes
            if not _matches(e, shape)
        ]
        got = ", ".join(sorted({_got(e, s) for shapes in places.values() for s in shapes}))
        if not wrong:
            return Outcome(e, got, True)
        layer, shape = wrong[0]
        where = "" if layer is None or self.config.num_layers == 1 else f" at layer {layer}"
        shown = _got(e, shape) + (f", shape {shape_text(shape)}" if e.count is not None else "")
        return Outcome(e, got, False, f"expected {e.label} {e.expected}, got {shown}{where}")


def _finite(e: Expectation, health: Mapping[str, Any] | None, bad_weight: str | None) -> Outcome:
    """'finite' against gate health's first NaN or Inf (step, layer, direction, gate), then
    the weights: an Inf in a weight can saturate a gate to exactly 0 or 1 and reach no value
    the pass computes, and is still not a finite model."""
    if health is None:
        return Outcome(e, "not traced", False, "expected every value finite, but not traced")
    first = health.get("first_nonfinite")
    if first is None and bad_weight is not None:
        return Outcome(
            e,
            f"NaN or Inf in {bad_weight}",
            False,
            f"expected every value finite, got NaN or Inf in the weights, first {bad_weight}",
        )
    if first is None:
        return Outcome(e, "all finite", True)
    where = f"step {first['step']}, layer {first['layer']}, {first['direction']}, {first['gate']}"
    return Outcome(
        e,
        f"NaN or Inf at {where}",
        False,
        f"expected every value finite, got NaN or Inf first at {where}",
    )


def _matches(e: Expectation, shape: Shape) -> bool:
    if e.count is not None:
        n = 1
        for d in shape:
            n *= d
        return n == e.count
    assert e.shape is not None
    return len(e.shape) == len(shape) and all(
        w is None or w == d for w, d in zip(e.shape, shape, strict=True)
    )


def _got(e: Expectation, shape: Shape) -> str:
    if e.count is not None:
        n = 1
        for d in shape:
            n *= d
        return f"{n:,} elements"
    return shape_text(shape)


def check_trace(trace: Trace, expectations: Sequence[Expectation]) -> list[Outcome]:
    """Evaluate expectations against a finished Trace."""
    checker = Checker(trace.config, expectations)
    checker.observe_all(trace.tensors)
    return checker.finish(trace.outputs, trace.param_count, trace.health, trace.weights)


def assert_shapes(target: LSTMConfig | Trace, **expected: object) -> Trace:
    """Assert shapes and counts in one line of a user's own test suite; return the Trace.

        assert_shapes(LSTMConfig(input_size=32, hidden_size=70, bidirectional=True, seq_len=10),
                      output=(10, 140), W_f=(70, 102), params_keras=57680)

    Keys are expectation NAMEs; params_keras, params_pytorch and params_onnx stand for
    params.keras, params.pytorch and params.onnx, and names such as 'concat@1' can be passed
    with **{...}. Values are shapes (tuples, with None or '*' for any dimension, or text such
    as '10,140') or counts (ints);
    finite=True asserts that no value the pass computed is NaN or Inf.
    On failure an AssertionError lists every failed expectation, as the CLI does.
    """
    result = run_trace(target, samples=0) if isinstance(target, LSTMConfig) else target
    expectations = []
    for name, value in expected.items():
        name = name.replace("params_", "params.", 1) if name.startswith("params_") else name
        if name == FINITE and value is False:
            continue  # finite=False asks for nothing
        if isinstance(value, (tuple, list)):
            value = ["*" if v is None else v for v in value]
        expectations.append(expectation(name, value))
    failed = [o.message for o in check_trace(result, expectations) if not o.passed]
    if failed:
        raise AssertionError("lstm-trace: " + "; ".join(failed))
    return result
