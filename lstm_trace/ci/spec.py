"""Spec files for `lstm-trace check`: named models, each a configuration and expectations.

    [models.walkthrough]          # a configuration, as the command line's options
    input = 32
    hidden = 70
    seq_len = 10
    direction = "bi"
    [models.walkthrough.expect]   # NAME = VALUE, as --expect
    output = "10,140"
    W_f = "70,102"
    "params.keras" = 57680

    [models.encoder]
    weights = "model.pt"          # relative to the spec file
    module = "encoder.lstm"       # which recurrent module of it (lstm-trace inspect lists them)
    expect = { output = "*,256", finite = true }   # finite: no NaN or Inf anywhere

A bad spec is refused with the file, the line and the key.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..config import LSTMConfig
from ..errors import ConfigError, FileError, LSTMTraceError
from .expect import FINITE, Expectation, ExpectationError, expectation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: spec key -> (config field, accepted types, description)
MODEL_KEYS: dict[str, tuple[str, tuple[type, ...], str]] = {
    "input": ("input_size", (int,), "a whole number"),
    "hidden": ("hidden_size", (int,), "a whole number"),
    "seq_len": ("seq_len", (int,), "a whole number"),
    "batch": ("batch", (int,), "a whole number"),
    "layers": ("num_layers", (int,), "a whole number"),
    "proj": ("proj_size", (int,), "a whole number"),
    "seed": ("seed", (int,), "a whole number"),
    "bidirectional": ("direction", (bool,), "true or false"),
    "bias": ("bias", (bool,), "true or false"),
    "direction": ("direction", (str,), '"uni", "bi" or "reverse"'),
    "cell": ("cell", (str,), '"lstm" or "gru"'),
    "reset_after": ("reset_after", (bool,), "true or false"),
    "peepholes": ("peepholes", (bool,), "true or false"),
    "dtype": ("dtype", (str,), '"float32" or "float64"'),
    "weights": ("weights", (str,), "a file name"),
    "module": ("module", (str,), "a module name, as lstm-trace inspect lists it"),
    "x": ("x", (str,), "a file name"),
    "expect": ("expect", (dict,), "a table of NAME = VALUE"),
}


class SpecError(LSTMTraceError):
    """A malformed spec file (a usage mistake: exit status 2)."""


@dataclass(frozen=True)
class ModelSpec:
    """One named model of a spec: config options (None: not given), files, expectations."""

    name: str
    options: dict[str, Any]
    weights: Path | None
    x: Path | None
    expectations: list[Expectation]
    #: the weights file's module to trace (None: its only one)
    module: str | None = None


def load_spec(path: Path) -> list[ModelSpec]:
    """Parse and validate a spec file; every problem names the file, the line and the key."""
    if not path.is_file():
        raise FileError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8-sig", errors="replace")  # a BOM is not content
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and tables
        raise SpecError(f"{path}: not a spec: arrays or tables nested too deeply") from None
    unknown = [k for k in data if k != "models"]
    if unknown:
        raise SpecError(
            f"{path}:{_line(text, [], unknown[0])}: unknown key {unknown[0]!r}; "
            "a spec holds [models.NAME] tables"
        )
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise SpecError(f"{path}: no models; add a table such as [models.walkthrough]")
    return [_model(path, text, name, body) for name, body in models.items()]


def _model(path: Path, text: str, name: str, body: dict[str, Any] | Any) -> ModelSpec:
    where = ["models", name]
    if not isinstance(body, dict):
        raise SpecError(f"{path}:{_line(text, ['models'], name)}: models.{name} must be a table")
    options: dict[str, Any] = {}
    files: dict[str, Path | None] = {"weights": None, "x": None}
    expectations: list[Expectation] = []
    module: str | None = None
    keys: dict[str, str] = {}  # config field -> its key, for errors found later
    for raw_key, value in body.items():
        # Lines are looked up in the text only for an error: a lookup scans the text, so
        # doing it for every key made a spec's check quadratic in its number of models.
        line = _LazyLine(text, where, raw_key)
        key = raw_key.replace("-", "_")  # the options' long names: seq-len or seq_len
        if key not in MODEL_KEYS:
            raise SpecError(
                f"{path}:{line}: models.{name}.{key}: unknown key; "
                f"accepted: {', '.join(MODEL_KEYS)}"
            )
        field, types, what = MODEL_KEYS[key]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            raise SpecError(f"{path}:{line}: models.{name}.{key}: expected {what}, got {value!r}")
        if key == "direction" and value not in ("uni", "bi", "reverse"):
            raise SpecError(
                f"{path}:{line}: models.{name}.direction: expected {what}, got {value!r}"
            )
        if key == "bidirectional":  # the older key: true is direction "bi"
            value = "bi" if value else options.get(field, "uni")
        if field == "direction" and field in options and options[field] != value:
            raise SpecError(f"{path}:{line}: models.{name}: direction and bidirectional disagree")
        if key in ("direction", "bidirectional"):
            options[field] = value
            keys[field] = raw_key
        elif key in files:
            files[key] = path.parent / str(value)  # an absolute path stays absolute
        elif key == "expect":
            expectations += _expectations(path, text, name, cast(dict[str, Any], value), line)
        elif key == "module":
            module = str(value)
        else:
            options[field] = value
            keys[field] = raw_key
    if module is not None and files["weights"] is None:
        raise SpecError(
            f"{path}:{_line(text, where, 'module')}: models.{name}.module: picks a module of "
            "a weights file; give weights too"
        )
    if files["weights"] is None:  # without weights every value is known now: check it here
        try:
            LSTMConfig(**options)
        except ConfigError as exc:
            known = exc.option in keys
            where_line = _line(text, where, keys[exc.option or ""]) if known else "?"
            raise SpecError(f"{path}:{where_line}: models.{name}: {exc.message}") from None
    if not expectations:
        raise SpecError(
            f"{path}:{_line(text, ['models'], name)}: models.{name} has no expectations"
        )
    return ModelSpec(name, options, files["weights"], files["x"], expectations, module)


def _expectations(
    path: Path, text: str, name: str, table: dict[str, Any], line: _LazyLine
) -> list[Expectation]:
    """models.NAME.expect, a table of NAME = VALUE; line: where the table is, for an error
    whose own key cannot be found (an inline table)."""
    out = []
    for ename, evalue in table.items():
        if ename == FINITE and evalue is False:
            continue  # finite = false asks for nothing
        try:
            if isinstance(evalue, list) and not evalue:
                raise ExpectationError(f"--expect {ename}: an empty shape")
            out.append(expectation(ename, evalue))
        except ExpectationError as exc:
            found = _line(text, ["models", name, "expect"], ename)
            where = str(line) if found == "?" else found
            raise SpecError(f"{path}:{where}: models.{name}.expect: {exc.message}") from None
    return out


class _LazyLine:
    """The line of a key, looked up when a message shows it (str()), not before."""

    def __init__(self, text: str, table: list[str], key: str) -> None:
        self.text, self.table, self.key = text, table, key

    def __str__(self) -> str:
        return str(_line(self.text, self.table, self.key))


def _line(text: str, table: list[str], key: str) -> int | str:
    """The line of `key` inside [table] (or an inline table of it), 1-based; '?' if not found.

    tomllib gives values without positions, so the key is looked up in the text: first in the
    section whose header is the table, then as a dotted or inline key anywhere.
    """
    lines = text.splitlines()
    header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(_key_re(p) for p in table) + r"\s*\]\s*$")
    key_re = re.compile(r"^\s*" + _key_re(key) + r"\s*[=.]")
    start = next((i for i, line in enumerate(lines) if table and header.match(line)), None)
    if start is not None:
        for i in range(start + 1, len(lines)):
            if lines[i].lstrip().startswith("["):
                break
            if key_re.match(lines[i]):
                return i + 1
    anywhere = re.compile(r"(^|[\s{,.\[])" + _key_re(key) + r"\s*[=.\]]")
    for i, line in enumerate(lines):
        if anywhere.search(line.split("#", 1)[0]):
            return i + 1
    return "?"


def _key_re(key: str) -> str:
    """A TOML key bare or quoted."""
    k = re.escape(key)
    return rf"(?:{k}|\"{k}\"|'{k}')"
