"""A Keras model's config as a graph: every layer, its full name, where its weights are, and
which layers' outputs it reads. Read as data (the JSON of a .keras archive's config.json or
of a legacy .h5's model_config attribute); no Keras class is ever built.

Models are Sequential (each layer reads the one before) or Functional (each layer's
inbound_nodes name the layers it reads). A model used as a layer (nested) is walked into:
its layers are named '<model>/<layer>' ('functional/lstm'), its inputs are the tensors the
outer model hands it, and the layers that read it read its outputs.

Two inbound_nodes formats are read:

    Keras 3    [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [None, 5, 4],
                "keras_history": ["embedding", 0, 0]}}], "kwargs": {"mask": None}}]
    tf.keras 2 [[["embedding", 0, 0, {}]]]

Keras 3 stores a .keras file's weights by the layers' *classes*, not their names: each
model's layers (Sequential's without its InputLayer, Functional's with them, in config
order) are the groups layers/<class in snake case>[_<n>], n counting that class within that
model from 1 ('lstm', 'lstm_1', 'bidirectional'), and a nested model's own layers are under
its group: layers/sequential/layers/lstm. A legacy .h5 stores them by the top-level layer's
name instead (model_weights/<name>/...), which GraphLayer.top gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: classes that are models when used as a layer (their own layers walked into)
MODELS = ("Sequential", "Functional", "Model")
#: layers that hand their input on unchanged at inference
IDENTITY = ("InputLayer", "Dropout", "SpatialDropout1D", "GaussianDropout", "GaussianNoise",
            "AlphaDropout")  # fmt: skip


@dataclass(frozen=True)
class GraphLayer:
    """One layer of a model config. name: full, '/'-joined ('functional/lstm'); group: its
    Keras 3 h5 group ('layers/functional/layers/lstm'; '' for a Sequential's InputLayer,
    which has none); top: the top-level layer it is in (a legacy .h5's group) and local: the
    names from there down (('inner', 'lstm_1')); inputs: the full names of the layers whose
    outputs its first call reads; calls: how many times the model calls it; input_shape: its
    input's shape when the config says ([None, T, I]); tensor_kwargs: keyword arguments given
    a tensor (mask, initial_state), and kwargs_from: the full names of the layers those
    tensors come from."""

    name: str
    cls: str
    config: dict[str, Any]
    group: str
    top: str
    local: tuple[str, ...]
    inputs: tuple[str, ...] = ()
    calls: int = 1
    input_shape: list[Any] | None = None
    tensor_kwargs: tuple[str, ...] = field(default=())
    kwargs_from: tuple[str, ...] = field(default=())


def snake_case(name: str) -> str:
    """Keras's own rule for group names: 'LSTM' -> 'lstm', 'InputLayer' -> 'input_layer'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique(name: str, used: dict[str, int]) -> str:
    """Keras's counter: the first 'lstm', then 'lstm_1', 'lstm_2', ..."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def model_layers(config: dict[str, Any]) -> list[GraphLayer]:
    """Every layer of a model config, nested models walked into, in config order (which
    Keras keeps topological: a layer comes after those it reads). A config of another shape
    raises KeyError, TypeError or ValueError (the reader's 'not laid out as' message)."""
    out: list[GraphLayer] = []
    _walk(config, (), "", (), out)
    return out


def is_model(config: Any) -> bool:
    """Whether a config is a Sequential or Functional model's (with its list of layers; a
    Keras 2.2 Sequential's config is the list itself)."""
    if not isinstance(config, dict) or config.get("class_name") not in MODELS:
        return False
    body = config.get("config")
    return isinstance(body, list) or (
        isinstance(body, dict) and isinstance(body.get("layers"), list)
    )


def _layers_of(model: dict[str, Any]) -> list[dict[str, Any]]:
    body = model["config"]
    layers = body if isinstance(body, list) else body["layers"]
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise TypeError(f"{model.get('class_name')}'s layers is not a list of layers")
    return layers


def _walk(
    model: dict[str, Any],
    prefix: tuple[str, ...],
    group: str,
    inputs: tuple[str, ...],
    out: list[GraphLayer],
) -> tuple[str, ...]:
    """Append model's layers to out; return the full names of its outputs."""
    if model.get("class_name") == "Sequential":
        return _sequential(model, prefix, group, inputs, out)
    return _functional(model, prefix, group, inputs, out)


def _name(layer: dict[str, Any]) -> str:
    name = layer["name"] if "name" in layer else layer["config"]["name"]
    if not isinstance(name, str) or not name:
        raise ValueError(f"a layer's name is {name!r}")
    return name


def _own_shape(cfg: dict[str, Any]) -> list[Any] | None:
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    return shape if isinstance(shape, list) else None


def _built_shape(layer: dict[str, Any]) -> list[Any] | None:
    shape = (layer.get("build_config") or {}).get("input_shape")
    return shape if isinstance(shape, list) else None


def _sequential(
    model: dict[str, Any],
    prefix: tuple[str, ...],
    group: str,
    inputs: tuple[str, ...],
    out: list[GraphLayer],
) -> tuple[str, ...]:
    used: dict[str, int] = {}
    previous = inputs
    shape: list[Any] | None = None
    for k, layer in enumerate(_layers_of(model)):
        cls, cfg, name = str(layer["class_name"]), layer["config"], _name(layer)
        path = (*prefix, name)
        # Sequential.layers leaves out its InputLayer: no group, no counter
        where = (
            ""
            if k == 0 and cls == "InputLayer"
            else f"{group}layers/{_unique(snake_case(cls), used)}"
        )
        if cls in MODELS:
            previous = _walk(layer, path, where + "/", previous, out)
            shape = None
            continue
        # an InputLayer's shape is what Keras builds the layer below from
        given = shape or _built_shape(layer) or _own_shape(cfg)
        node = GraphLayer(
            name="/".join(path), cls=cls, config=cfg, group=where, top=path[0], local=path,
            inputs=previous, input_shape=given,
        )  # fmt: skip
        out.append(node)
        previous = (node.name,)
        shape = _own_shape(cfg) if cls == "InputLayer" else None
    return previous


def _triples(value: Any) -> list[str]:
    """The layer names of input_layers / output_layers: ['a', 0, 0], [['a', 0, 0], ...],
    nested as the model's outputs are ([..., [['b', 0, 0], ['b', 0, 1]]])."""
    if not isinstance(value, list) or not value:
        return []
    if isinstance(value[0], str):
        return [value[0]]
    names: list[str] = []
    for v in value:
        names += [n for n in _triples(v) if n not in names]
    return names


def _functional(
    model: dict[str, Any],
    prefix: tuple[str, ...],
    group: str,
    inputs: tuple[str, ...],
    out: list[GraphLayer],
) -> tuple[str, ...]:
    used: dict[str, int] = {}
    produced: dict[str, tuple[str, ...]] = {}  # a layer's own name -> its outputs' full names
    cfg_model = model["config"] if isinstance(model["config"], dict) else {}
    entry = _triples(cfg_model.get("input_layers"))
    for layer in _layers_of(model):
        cls, cfg, name = str(layer["class_name"]), layer["config"], _name(layer)
        path = (*prefix, name)
        where = f"{group}layers/{_unique(snake_case(cls), used)}"
        nodes = layer.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise TypeError(f"layer {name!r}'s inbound_nodes is not a list")
        sources, shape, kwargs = _inbound(nodes[0]) if nodes else ([], None, {})
        reads, given = _made(name, sources, produced), _made(name, _flat(kwargs), produced)
        if cls == "InputLayer" and not nodes and name in entry:
            k = entry.index(name)  # a nested model's input: what the outer model hands it
            reads = inputs[k : k + 1]
        if cls in MODELS:
            produced[name] = _walk(layer, path, where + "/", reads, out)
            continue
        node = GraphLayer(
            name="/".join(path), cls=cls, config=cfg, group=where, top=path[0], local=path,
            inputs=reads, calls=max(len(nodes), 1),
            input_shape=shape or _built_shape(layer) or _own_shape(cfg),
            tensor_kwargs=tuple(kwargs), kwargs_from=given,
        )  # fmt: skip
        out.append(node)
        produced[name] = (node.name,)
    return tuple(n for name in _triples(cfg_model.get("output_layers")) for n in produced[name])


def _flat(kwargs: dict[str, list[str]]) -> list[str]:
    return [n for names in kwargs.values() for n in names]


def _made(name: str, sources: list[str], produced: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The full names of the layers whose outputs these are (each made before the layer)."""
    reads: tuple[str, ...] = ()
    for source in sources:
        if source not in produced:
            raise ValueError(f"layer {name!r} reads {source!r}, which comes after it")
        reads += produced[source]
    return reads


def _tensors(value: Any) -> list[dict[str, Any]]:
    """The Keras 3 tensor references (__keras_tensor__) anywhere inside value."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [value["config"]]
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, list):
        return [t for v in value for t in _tensors(v)]
    return []


def _inbound(node: Any) -> tuple[list[str], list[Any] | None, dict[str, list[str]]]:
    """(the layers a call reads, the first input's shape, {kwarg given tensors: the layers
    they come from}) of one inbound node, in either format."""
    if isinstance(node, dict):  # Keras 3
        args = _tensors(node.get("args", []))
        kwargs = node.get("kwargs") or {}
        given = {
            k: [str(t["keras_history"][0]) for t in _tensors(v)]
            for k, v in kwargs.items()
            if _tensors(v)
        }
        shape = args[0].get("shape") if args else None
        return [str(t["keras_history"][0]) for t in args], shape, given
    if isinstance(node, list):  # tf.keras 2: [[name, node_index, tensor_index, kwargs], ...]
        names = [str(entry[0]) for entry in node]
        return names, None, {}  # its initial states are further entries
    raise TypeError(f"an inbound node is {type(node).__name__}, not a list or an object")
