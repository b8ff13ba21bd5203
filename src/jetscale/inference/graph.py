"""What an ONNX graph needs of the particle axis: the fewest slots it accepts.

A network with a k-nearest-neighbour step (ParticleNet's EdgeConv, ParticleNeXt)
exports it as a ``TopK`` node whose ``k`` is the number of neighbours plus one
(the particle itself): ``TopK(distances (N, P, P), K=[17], axis=-1)`` for k = 16.
ONNX Runtime refuses to run it on fewer than ``K`` particle slots ("k argument
[17] should not be greater than specified axis dim value [16]"), whatever the
number of real particles. :func:`minimum_particle_length` finds that bound.

The rule: the largest ``K`` over the graph's ``TopK`` nodes (subgraphs
included) whose ``K`` is a constant (an initializer, a ``Constant`` node, or the
``k`` attribute of opsets before 10), counting a node unless ONNX shape inference
shows that its axis is not the particle axis: a fixed size (padding cannot change
it) or the batch axis of a graph input. Axes shape inference cannot follow (the
``unk__`` dimensions after a reshape) count. When the bound cannot be read (a
``K`` computed in the graph, or the ``onnx`` package missing for a graph that
has ``TopK`` nodes) the result says so, and the caller pads to the model's full
length instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator
from typing import Any


@dataclasses.dataclass(frozen=True)
class MinimumLength:
    """The fewest particle slots a graph accepts; ``slots`` None when it cannot be read."""

    slots: int | None
    source: str  # why, for messages: "TopK node '/mod/edge_convs.0/TopK' (k=17)"


def minimum_particle_length(model: bytes, batch_axes: Collection[str] = ()) -> MinimumLength:
    """The fewest particle slots the ONNX graph ``model`` (serialized bytes) accepts.

    ``batch_axes`` are the symbolic names (``dim_param``) of the graph inputs'
    batch axes as ONNX Runtime reports them (``N``): a ``TopK`` along one of them
    does not count. Returns ``MinimumLength(1, ...)`` for a graph without a
    particle-axis ``TopK``; see the module docstring for the rule.
    """
    if b"TopK" not in model:  # op types are plain strings in the protobuf: no parsing needed
        return MinimumLength(1, "no TopK node")
    try:
        import onnx
    except ImportError:
        return MinimumLength(
            None,
            "the graph has TopK nodes, and reading their k needs the onnx package "
            "(pip install 'jetscale[ml]')",
        )
    proto = onnx.load_model_from_string(model)
    nodes = list(_nodes(proto.graph))
    topk = [node for node in nodes if node.op_type == "TopK"]
    if not topk:
        return MinimumLength(1, "no TopK node")
    constants = _constants(proto.graph, nodes)
    axis_sizes = _axis_sizes(proto)
    best = MinimumLength(1, "no TopK node on the particle axis")
    for node in topk:
        attributes = {a.name: a for a in node.attribute}
        if "k" in attributes:  # opset < 10
            k: int | None = int(attributes["k"].i)
        else:
            k = constants.get(node.input[1]) if len(node.input) > 1 else None
        axis = int(attributes["axis"].i) if "axis" in attributes else -1
        size = _axis_size(axis_sizes.get(node.input[0]), axis)
        if isinstance(size, int) or size in batch_axes:
            continue  # a fixed or batch axis: padding cannot change its size
        if k is None:
            return MinimumLength(None, f"TopK node {node.name!r} takes a k computed in the graph")
        if k > (best.slots or 0):
            best = MinimumLength(k, f"TopK node {node.name!r} (k={k})")
    return best


def _nodes(graph: Any) -> Iterator[Any]:
    """Every node of ``graph`` and of its subgraphs (``If``, ``Loop``, ``Scan`` bodies)."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from _nodes(attribute.g)
            for subgraph in attribute.graphs:
                yield from _nodes(subgraph)


def _constants(graph: Any, nodes: list[Any]) -> dict[str, int]:
    """Single-element integer tensors by name: initializers and ``Constant`` node outputs."""
    from onnx import numpy_helper

    tensors = {t.name: t for t in graph.initializer}
    for node in nodes:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value" and attribute.HasField("t"):
                    tensors[node.output[0]] = attribute.t
    values = {}
    for name, tensor in tensors.items():
        if tensor.data_location == 1:  # external data: never a TopK's k
            continue
        array = numpy_helper.to_array(tensor)
        if array.size == 1 and array.dtype.kind in "iu":
            values[name] = int(array.reshape(-1)[0])
    return values


def _axis_sizes(model: Any) -> dict[str, list[int | str | None]]:
    """Each tensor's dimensions from ONNX shape inference (int, symbol or None), where known."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # a graph shape inference cannot follow: every axis unknown
        return {}
    sizes: dict[str, list[int | str | None]] = {}
    graph = inferred.graph
    for info in (*graph.input, *graph.value_info, *graph.output):
        tensor_type = info.type.tensor_type
        if not tensor_type.HasField("shape"):
            continue
        sizes[info.name] = [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in tensor_type.shape.dim
        ]
    return sizes


def _axis_size(dims: list[int | str | None] | None, axis: int) -> int | str | None:
    """The size of ``axis`` (negative counts from the end) of ``dims``; None when unknown."""
    if dims is None or not -len(dims) <= axis < len(dims):
        return None
    return dims[axis]
