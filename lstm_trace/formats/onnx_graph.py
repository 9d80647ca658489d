"""An ONNX model read as data: its graphs walked, and the constant tensors a node takes
evaluated, without running the model.

An ONNX file is a protobuf ModelProto: a graph of nodes, whose tensors are graph inputs (fed
at run time), initializers (stored in the file) or node outputs. If and Loop nodes hold
subgraphs (then_branch, else_branch, body) that may read the enclosing graphs' tensors.

A tensor is constant when it is an initializer, a Constant node's value, or the output of
nodes whose inputs are all constant. `Scope.constant` evaluates one tensor: only the nodes it
depends on, one at a time with the onnx package's reference evaluator, each of a small set of
data-moving operators (Slice, Concat, Reshape, Gather, ...) whose output size is computed,
and checked against the memory limit, before the node runs. A tensor that depends on a graph
input is not constant (NotConstant names the input). The model's own code (custom operators,
functions) is never called: anything outside that set is refused by name.

Tensors stored outside the model file (ONNX's external data, which torch.onnx.export writes
as model.onnx.data) are read as raw numbers from the file beside the model that they name,
never from outside the model's folder.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import FileError
from .file_limits import optional, refuse_over

#: operators evaluated in constant subgraphs, with how large their output may be
_SAME_SIZE = {"Identity", "Cast", "Squeeze", "Unsqueeze", "Reshape", "Flatten", "Transpose",
              "Neg", "Abs", "Relu", "Sigmoid", "Tanh", "Sqrt", "Exp", "Reciprocal"}  # fmt: skip
_SMALLER = {"Slice", "Split", "Shape", "Size", "ReduceSum", "ReduceMean"}
_BROADCAST = {"Add", "Sub", "Mul", "Div", "Pow", "Where", "Max", "Min"}
EVALUATED = _SAME_SIZE | _SMALLER | _BROADCAST | {"Concat", "Gather", "Expand", "ConstantOfShape"}


class NotConstant(Exception):
    """A tensor computed from a graph input (named), or by an operator not evaluated here."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def load_model(path: Path, limit: int) -> Any:
    """The ModelProto of an .onnx file; its size checked against limit before it is read,
    a file that is not an ONNX model refused in one line. External data is not loaded."""
    onnx = optional("onnx", "reading .onnx files")
    refuse_over(path, path.stat().st_size, limit, "model")
    raw = path.read_bytes()
    try:
        model = onnx.load_model_from_string(raw)
    except Exception:  # protobuf's DecodeError and whatever a damaged message raises
        raise FileError(f"{path}: not a readable ONNX model (damaged or truncated?)") from None
    if not model.HasField("graph") or not model.graph.node:
        raise FileError(f"{path}: not an ONNX model with a graph of nodes")
    return model


def opsets(model: Any) -> dict[str, int]:
    """{domain: version} the model imports ('' is ONNX's own operators)."""
    return {o.domain: int(o.version) for o in model.opset_import}


@dataclass
class Scope:
    """One graph (the model's, or a subgraph) with the scopes it sits in: where each of its
    tensors comes from. path is the subgraph path ('' at the top, 'If_0/then_branch/')."""

    file: Path
    graph: Any
    opsets: dict[str, int]
    limit: int
    path: str = ""
    outer: Scope | None = None
    inputs: set[str] = field(default_factory=set)
    initializers: dict[str, Any] = field(default_factory=dict)
    producers: dict[str, Any] = field(default_factory=dict)
    _values: dict[str, NDArray[Any]] = field(default_factory=dict)
    #: bytes of every value evaluated so far, in this scope and those inside it (the top's)
    spent: list[int] = field(default_factory=lambda: [0])

    def __post_init__(self) -> None:
        self.initializers = {t.name: t for t in self.graph.initializer}
        self.inputs = {i.name for i in self.graph.input} - set(self.initializers)
        self.producers = {out: node for node in self.graph.node for out in node.output if out}

    def child(self, graph: Any, path: str) -> Scope:
        return Scope(self.file, graph, self.opsets, self.limit, path, outer=self, spent=self.spent)

    def owner(self, name: str) -> Scope | None:
        """The innermost scope that defines name (a subgraph may read its parents')."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.initializers or name in scope.producers or name in scope.inputs:
                return scope
            scope = scope.outer
        return None

    def constant(self, name: str, what: str) -> NDArray[Any]:
        """The value of tensor name, evaluated from what it depends on only; NotConstant when
        it depends on a graph input. what names it in messages ('W of LSTM node "lstm"')."""
        scope = self.owner(name)
        if scope is None:
            raise FileError(f"{self.file}: {what} is {name!r}, which the graph never defines")
        return scope._value(name, what, depth=0)

    def zeros(self, name: str) -> bool:
        """Whether name is zeros of a shape known only at run time: Expand of a constant of
        zeros, or ConstantOfShape of zero (how exporters write zero initial states for any
        batch)."""
        scope = self.owner(name)
        node = None if scope is None else scope.producers.get(name)
        if scope is None or node is None or not node.input:
            return False
        try:
            if node.op_type == "Expand":
                return not np.any(self.constant(node.input[0], name))
            if node.op_type == "ConstantOfShape":
                value = [a.t for a in node.attribute if a.name == "value"]
                return not value or not np.any(scope._initializer(value[0], name))
        except NotConstant:
            return False
        return False

    def _value(self, name: str, what: str, depth: int) -> NDArray[Any]:
        if name in self._values:
            return self._values[name]
        if depth > 200:
            raise NotConstant(f"{what} is computed by more than 200 nodes in a row")
        if name in self.initializers:
            value = self._initializer(self.initializers[name], what)
        elif name in self.producers:
            value = self._computed(self.producers[name], name, what, depth)
        else:
            raise NotConstant(f"{what} depends on the graph input {name!r}, given at run time")
        self.spent[0] += value.nbytes  # all the tensors read, together, within the limit
        refuse_over(self.file, self.spent[0], self.limit, "weights and constants")
        self._values[name] = value
        return value

    def _initializer(self, tensor: Any, what: str) -> NDArray[Any]:
        onnx = optional("onnx", "reading .onnx files")
        refuse_over(self.file, _tensor_bytes(tensor), self.limit, what)
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            return external(self.file, tensor, what)
        value: NDArray[Any] = onnx.numpy_helper.to_array(tensor)
        return value

    def _computed(self, node: Any, name: str, what: str, depth: int) -> NDArray[Any]:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            return self._constant_node(node, what)
        if node.op_type not in EVALUATED or node.domain not in ("", "ai.onnx"):
            label = f"{node.domain}.{node.op_type}" if node.domain else node.op_type
            raise NotConstant(f"{what} is computed by a {label} node, which lstm-trace does "
                              "not evaluate")  # fmt: skip
        args: list[NDArray[Any] | None] = []
        for arg in node.input:
            if not arg:
                args.append(None)
                continue
            scope = self.owner(arg)
            if scope is None:
                raise NotConstant(f"{what} depends on {arg!r}, which the graph never defines")
            args.append(scope._value(arg, what, depth + 1))
        out_bytes = _output_bytes(node, args)
        refuse_over(self.file, out_bytes, self.limit, f"{what} (its {node.op_type})")
        return self._run(node, args, name, what)

    def _constant_node(self, node: Any, what: str) -> NDArray[Any]:
        onnx = optional("onnx", "reading .onnx files")
        attr = node.attribute[0] if node.attribute else None
        if attr is None:
            raise FileError(f"{self.file}: {what} comes from a Constant node with no value")
        if attr.name == "value":
            return self._initializer(attr.t, what)
        value = onnx.helper.get_attribute_value(attr)
        if attr.name in ("value_float", "value_int"):
            return np.asarray(value, dtype=np.float32 if "float" in attr.name else np.int64)
        if attr.name in ("value_floats", "value_ints"):
            return np.asarray(list(value), dtype=np.float32 if "float" in attr.name else np.int64)
        raise NotConstant(f"{what} comes from a Constant node's {attr.name}, not a tensor")

    def _run(self, node: Any, args: list[Any], name: str, what: str) -> NDArray[Any]:
        reference = importlib.import_module("onnx.reference")
        try:
            evaluator = reference.ReferenceEvaluator(node, opsets=self.opsets)
            feeds = {n: a for n, a in zip(node.input, args, strict=True) if n}
            outputs = evaluator.run(None, feeds)
        except Exception as exc:  # the evaluator's own errors on a malformed node
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise FileError(
                f"{self.file}: {what}: its {node.op_type} node {node.name!r} cannot be "
                f"evaluated ({first[:200]})"
            ) from None
        for out, value in zip(node.output, outputs, strict=False):
            if out:
                self._values[out] = np.asarray(value)
        return self._values[name]


def external(file: Path, tensor: Any, what: str) -> NDArray[Any]:
    """A tensor stored outside the model (ONNX's external data: torch.onnx.export's
    model.onnx.data): read from the file its location names, which must sit in the model's
    folder, at its offset, as raw little-endian numbers of the tensor's dtype."""
    onnx = optional("onnx", "reading .onnx files")
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = Path(info.get("location", ""))
    folder = file.resolve().parent
    where = (folder / location).resolve()
    if not location.parts or location.is_absolute() or folder not in where.parents:
        raise FileError(f"{file}: {what} is stored in {str(location)!r}, outside the model's "
                        "folder; lstm-trace reads external data beside the model only")  # fmt: skip
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).newbyteorder("<")
    dims = tuple(int(d) for d in tensor.dims)
    count = math.prod(dims)
    try:
        offset = int(info.get("offset", 0))
        with where.open("rb") as f:
            f.seek(offset)
            raw = f.read(count * dtype.itemsize)
    except (OSError, ValueError) as exc:
        raise FileError(f"{file}: {what}: cannot read its external data {str(location)!r} "
                        f"({getattr(exc, 'strerror', None) or exc})") from None  # fmt: skip
    if len(raw) != count * dtype.itemsize:
        raise FileError(f"{file}: {what}: its external data {str(location)!r} ends before "
                        "the tensor does (truncated?)")  # fmt: skip
    return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("=")).reshape(dims)


def _tensor_bytes(tensor: Any) -> int:
    onnx = optional("onnx", "reading .onnx files")
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except (KeyError, TypeError, ValueError):
        itemsize = 8
    return int(math.prod(int(d) for d in tensor.dims)) * int(itemsize)


def _output_bytes(node: Any, args: list[Any]) -> int:
    """The bytes node's outputs may take, from its inputs' values, before it runs."""
    present = [np.asarray(a) for a in args if a is not None]
    itemsize = max((a.itemsize for a in present), default=8)
    op = node.op_type
    if op in _SAME_SIZE or op in _SMALLER:
        return present[0].nbytes if present else 0
    if op == "Concat":
        return sum(a.nbytes for a in present)
    if op == "Gather" and len(present) == 2:
        data, indices = present  # indices.size rows of data, whichever axis it takes them on
        smallest = min(data.shape, default=1)
        return indices.size * (data.size // max(smallest, 1)) * itemsize
    if op == "ConstantOfShape":
        return _count(present[0]) * 8 if present else 8
    try:
        if op == "Expand" and len(present) == 2:
            shape = np.broadcast_shapes(present[0].shape, tuple(int(d) for d in present[1]))
        else:
            shape = np.broadcast_shapes(*(a.shape for a in present))
    except (ValueError, TypeError, OverflowError):
        return 0  # the evaluator says the shapes do not match
    return math.prod(shape) * itemsize


def _count(shape: NDArray[Any]) -> int:
    dims = [int(d) for d in np.asarray(shape).reshape(-1)]
    return math.prod(max(d, 0) for d in dims)


def static_shape(scope: Scope, name: str) -> tuple[int | None, ...] | None:
    """A tensor's declared shape (None for a dimension that is symbolic), if declared."""
    current: Scope | None = scope
    while current is not None:
        graph = current.graph
        for info in (*graph.input, *graph.value_info, *graph.output):
            if info.name == name and info.type.HasField("tensor_type"):
                tensor = info.type.tensor_type
                if not tensor.HasField("shape"):
                    return None
                return tuple(
                    int(d.dim_value) if d.HasField("dim_value") else None for d in tensor.shape.dim
                )
        current = current.outer
    return None


def walk(scope: Scope) -> Iterator[tuple[Scope, Any]]:
    """Every node of scope's graph and of its subgraphs, in file order, with its scope; a
    subgraph's path is its node's name (or 'If#k') and attribute ('If_0/then_branch/')."""
    onnx = optional("onnx", "reading .onnx files")
    counts: dict[str, int] = {}
    for node in scope.graph.node:
        yield scope, node
        k = counts.get(node.op_type, 0)
        counts[node.op_type] = k + 1
        for attr in node.attribute:
            graphs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
            for graph in graphs:
                label = node.name or f"{node.op_type}#{k}"
                yield from walk(scope.child(graph, f"{scope.path}{label}/{attr.name}/"))


def describe_ops(ops: list[str]) -> str:
    """'RNN, MatMul and 3 more': the kinds of node a model holds, for a message."""
    unique = list(dict.fromkeys(ops))
    shown = ", ".join(unique[:6])
    return shown + (f" and {len(unique) - 6} more" if len(unique) > 6 else "")
