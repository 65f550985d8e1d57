"""Functional models: a graph of layer calls from ``keras.Input`` tensors
to outputs, replayed on real tensors at each call."""

from __future__ import annotations

from typing import Any

import devrt
from devrt.keras import backend, serialization
from devrt.keras.keras_tensor import KerasTensor, Node, flatten, map_structure
from devrt.keras.layers.core import InputLayer
from devrt.keras.layers.layer import Layer, _shape_of, training_scope
from devrt.keras.models.model import Model


def _history(t: KerasTensor) -> tuple[Layer, int, int]:
    if t._keras_history is None:
        raise ValueError(f"[Model] {t} was not made by keras.Input or a layer call")
    return t._keras_history


def _node_of(t: KerasTensor) -> Node:
    layer, index, _ = _history(t)
    return layer._inbound_nodes[index]


class Functional(Model):
    """``keras.Model(inputs, outputs)``."""

    _keras_module = "keras.src.models.functional"

    def __init__(
        self,
        inputs: Any,
        outputs: Any,
        name: str | None = None,
        trainable: bool = True,
        **kwargs: Any,
    ) -> None:
        self._functional_init_done = True
        Model.__init__(self, name=name, trainable=trainable, **kwargs)
        if isinstance(inputs, dict):
            for key, t in inputs.items():
                if not isinstance(t, KerasTensor):
                    raise ValueError(f"[Model] input {key!r} is not a KerasTensor: {t!r}")
        for t in flatten(inputs) + flatten(outputs):
            if not isinstance(t, KerasTensor):
                raise ValueError(
                    "[Model] all inputs and outputs of a functional model must be KerasTensors "
                    f"(from keras.Input and layer calls); got {type(t).__name__}"
                )
        if (
            isinstance(inputs, (list, tuple))
            and len(inputs) == 1
            and not isinstance(inputs[0], (list, tuple, dict))
        ):
            inputs = inputs[0] if isinstance(inputs, tuple) else inputs
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        self._nodes = self._collect_nodes()
        self._set_layers()
        self.output_names = (
            list(outputs)
            if isinstance(outputs, dict)
            else [_history(t)[0].name for t in self.outputs]
        )
        self.input_names = [_history(t)[0].name for t in self.inputs]
        self.built = True
        self._build_shapes_dict = None

    def _collect_nodes(self) -> list[Node]:
        """The nodes between the inputs and the outputs, each after the nodes
        it reads from."""
        input_ids = {id(t) for t in self.inputs}
        order: list[Node] = []
        state: dict[int, int] = {}

        def visit(node: Node) -> None:
            key = id(node)
            if state.get(key) == 2:
                return
            if state.get(key) == 1:
                raise ValueError("[Model] the layer graph has a cycle")
            state[key] = 1
            for t in node.input_tensors:
                if id(t) not in input_ids:
                    parent = _node_of(t)
                    if isinstance(parent.layer, InputLayer):
                        raise ValueError(
                            f"[Model] the graph needs the input {t.name!r}, which is not in the "
                            "model's inputs"
                        )
                    visit(parent)
            state[key] = 2
            order.append(node)

        for t in self.outputs:
            if id(t) not in input_ids:
                visit(_node_of(t))
        return order

    def _set_layers(self) -> None:
        layers = keras_layer_order(self)
        for layer in layers:
            self._track(layer)
        self._layers = layers

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @property
    def input(self) -> Any:
        return self._inputs_struct

    @property
    def output(self) -> Any:
        return self._outputs_struct

    @property
    def input_shape(self) -> Any:
        return _shape_of(self._inputs_struct)

    @property
    def output_shape(self) -> Any:
        return _shape_of(self._outputs_struct)

    def _bind_inputs(self, inputs: Any) -> dict[int, Any]:
        values: dict[int, Any] = {}
        if isinstance(self._inputs_struct, dict):
            if not isinstance(inputs, dict):
                raise ValueError(
                    f"[{self.name}] the model takes a dict of inputs {list(self._inputs_struct)}, "
                    f"got {type(inputs).__name__}"
                )
            pairs = [(t, inputs.get(k)) for k, t in self._inputs_struct.items()]
        elif len(self.inputs) == 1:
            if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
                inputs = inputs[0]
            elif isinstance(inputs, dict) and len(inputs) == 1:
                inputs = next(iter(inputs.values()))
            pairs = [(self.inputs[0], inputs)]
        else:
            if isinstance(inputs, dict):
                flat = [inputs.get(_history(t)[0].name) for t in self.inputs]
            else:
                flat = flatten(inputs)
            if len(flat) != len(self.inputs):
                raise ValueError(
                    f"[{self.name}] the model expects {len(self.inputs)} input(s), but it "
                    f"received {len(flat)} input tensors"
                )
            pairs = list(zip(self.inputs, flat))
        for i, (t, value) in enumerate(pairs):
            if value is None:
                raise ValueError(f"[{self.name}] missing input {t.name!r}")
            if not isinstance(value, devrt.Tensor):
                value = backend.convert_to_tensor(value)
            expected = t.shape
            shape = tuple(value.shape)
            if len(shape) != len(expected) or any(
                e is not None and e != s for e, s in zip(expected, shape)
            ):
                raise ValueError(
                    f'Input {i} of layer "{self.name}" is incompatible with the layer: '
                    f"expected shape={expected}, found shape={shape}"
                )
            values[id(t)] = value
        return values

    def call(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        values = self._bind_inputs(inputs)

        def lookup(x: Any) -> Any:
            return values[id(x)] if isinstance(x, KerasTensor) else x

        with training_scope(training):
            for node in self._nodes:
                args = map_structure(lookup, node.args)
                kwargs = {k: map_structure(lookup, v) for k, v in node.kwargs.items()}
                out = node.layer(*args, **kwargs)
                for t, v in zip(node.output_tensors, flatten(out)):
                    values[id(t)] = v
        return map_structure(lookup, self._outputs_struct)

    # --- configs ---------------------------------------------------------------

    def _node_indices(self) -> dict[int, int]:
        """Each node's index among its layer's nodes that belong to this model."""
        mine = {id(n) for n in self._nodes}
        out: dict[int, int] = {}
        for layer in self._layers:
            kept = [
                n for n in layer._inbound_nodes if id(n) in mine or isinstance(layer, InputLayer)
            ]
            for i, n in enumerate(kept):
                out[id(n)] = i
        return out

    def get_config(self) -> dict:
        index = self._node_indices()

        def history(t: KerasTensor) -> list:
            layer, node_index, tensor_index = _history(t)
            node = layer._inbound_nodes[node_index]
            return [layer.name, index.get(id(node), 0), tensor_index]

        def tensor_config(x: Any) -> Any:
            if isinstance(x, KerasTensor):
                return {
                    "class_name": "__keras_tensor__",
                    "config": {
                        "shape": list(x.shape),
                        "dtype": x.dtype,
                        "keras_history": history(x),
                    },
                }
            return serialization.serialize_keras_object(x)

        mine = {id(n) for n in self._nodes}
        layer_configs = []
        for layer in self._layers:
            entry = serialization.serialize_keras_object(layer)
            build = layer.get_build_config() if not isinstance(layer, InputLayer) else None
            if build is not None:
                entry["build_config"] = build
            entry["name"] = layer.name
            entry["inbound_nodes"] = [
                {
                    "args": [map_structure(tensor_config, a) for a in n.args],
                    "kwargs": {k: map_structure(tensor_config, v) for k, v in n.kwargs.items()},
                }
                for n in layer._inbound_nodes
                if id(n) in mine
            ]
            layer_configs.append(entry)

        def endpoints(struct: Any) -> Any:
            if isinstance(struct, dict):
                return {k: history(v) for k, v in struct.items()}
            if isinstance(struct, KerasTensor):
                return history(struct)
            return [endpoints(s) for s in struct]

        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": layer_configs,
            "input_layers": endpoints(self._inputs_struct),
            "output_layers": endpoints(self._outputs_struct),
        }


def keras_layer_order(model: Any) -> list:
    """A functional model's layers in Keras' order: deepest first (the
    depth of a layer is its longest distance to an output), ties in the
    order a depth-first walk from the outputs first meets them; input
    layers that feed nothing last."""
    inputs = model.inputs
    input_ids = {id(t) for t in inputs}
    finished: set[int] = set()
    nodes: list[Any] = []  # from the inputs to the outputs
    first_seen: dict[int, int] = {}
    layers: dict[int, Any] = {}

    def node_of(t: Any) -> Any:
        layer, index, _ = t._keras_history
        return layer, layer._inbound_nodes[index]

    def walk(t: Any) -> None:
        layer, node = node_of(t)
        if id(node) in finished:
            return
        is_input = isinstance(layer, InputLayer)
        if not is_input and id(t) in input_ids:
            finished.add(id(node))
            return
        first_seen.setdefault(id(layer), len(first_seen))
        layers[id(layer)] = layer
        if not is_input:
            for x in node.input_tensors:
                walk(x)
        finished.add(id(node))
        nodes.append(node)

    for t in flatten(model.outputs):
        walk(t)
    in_graph = {id(n) for n in nodes}
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    for node in reversed(nodes):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        node_depth[id(node)] = depth
        for t in node.input_tensors:
            parent = node_of(t)[1]
            if id(parent) in in_graph:
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for t in inputs:
        layer = t._keras_history[0]
        if id(layer) not in layer_depth and isinstance(layer, InputLayer):
            layer_depth[id(layer)] = 0
            first_seen[id(layer)] = -1
            layers[id(layer)] = layer
    order = sorted(layer_depth, key=lambda k: (-layer_depth[k], first_seen[k]))
    return [layers[k] for k in order]


def functional_from_config(cls: type, config: dict, custom_objects: dict | None = None) -> Any:
    """Rebuild a functional model from its config: make every layer, then
    replay the recorded calls in order until every node has run."""
    from devrt.keras import layers as layers_module

    created: dict[str, Layer] = {}
    pending: list[tuple[Layer, list]] = []
    for entry in config["layers"]:
        layer = layers_module.deserialize(
            {
                k: entry[k]
                for k in ("module", "class_name", "config", "registered_name")
                if k in entry
            },
            custom_objects=custom_objects,
        )
        created[entry["name"]] = layer
        pending.append((layer, list(entry.get("inbound_nodes", []))))
    made: dict[tuple[str, int], Any] = {}
    for name, layer in created.items():
        if isinstance(layer, InputLayer):
            made[(name, 0)] = layer.output

    def resolve(x: Any) -> Any:
        if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
            layer_name, node_index, tensor_index = x["config"]["keras_history"]
            outputs = made[(layer_name, node_index)]
            return flatten(outputs)[tensor_index]
        if isinstance(x, list):
            return [resolve(v) for v in x]
        if isinstance(x, dict):
            return {k: resolve(v) for k, v in x.items()}
        return x

    def ready(x: Any) -> bool:
        if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
            layer_name, node_index, _ = x["config"]["keras_history"]
            return (layer_name, node_index) in made
        if isinstance(x, list):
            return all(ready(v) for v in x)
        if isinstance(x, dict):
            return all(ready(v) for v in x.values())
        return True

    progress = True
    while progress:
        progress = False
        for layer, nodes in pending:
            if isinstance(layer, InputLayer):
                continue
            while nodes:
                node = nodes[0]
                # Keras 2 files list a node as [[layer, node, tensor, kwargs], ...].
                if isinstance(node, list):
                    raise ValueError(
                        "[load_model] the config uses the Keras 2 functional format, which devrt "
                        "does not read"
                    )
                if not (ready(node.get("args", [])) and ready(node.get("kwargs", {}))):
                    break
                count = sum(1 for key in made if key[0] == layer.name)
                out = layer(*resolve(node.get("args", [])), **resolve(node.get("kwargs", {})))
                made[(layer.name, count)] = out
                nodes.pop(0)
                progress = True
    if any(nodes for layer, nodes in pending if not isinstance(layer, InputLayer)):
        stuck = [layer.name for layer, nodes in pending if nodes]
        raise ValueError(f"[load_model] could not rebuild the calls of layers {stuck}")

    def endpoint(spec: Any) -> Any:
        if isinstance(spec, dict):
            return {k: endpoint(v) for k, v in spec.items()}
        if isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str):
            return flatten(made[(spec[0], spec[1])])[spec[2]]
        return [endpoint(s) for s in spec]

    inputs = endpoint(config["input_layers"])
    outputs = endpoint(config["output_layers"])
    model_cls = cls if cls is not Model else Functional
    model = model_cls(inputs, outputs, name=config.get("name"))
    if config.get("trainable") is False:
        model.trainable = False
    return model
