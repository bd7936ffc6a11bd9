"""The ``onnxruntime`` port: the Keras 3 cross-entropies as ONNX graphs, built with ``onnx.helper`` and run by onnxruntime.

Each call of a loss function, a loss class or a metric update is traced into
one ONNX graph (opset 21) and run by an ``onnxruntime.InferenceSession`` with
the default session options: this is what a port exported to ONNX computes.
Kernels:

* sparse, logits: the ``SoftmaxCrossEntropyLoss`` operator (``reduction="none"``);
* sparse, probabilities: ``Div`` by ``ReduceSum`` (renormalise), ``Clip(eps, 1 - eps)``, ``Log``,
  then the ``NegativeLogLikelihoodLoss`` operator;
* categorical, logits: ``LogSoftmax``, ``Mul``, ``ReduceSum``, ``Neg`` (the loss operators take
  integer labels only);
* categorical, probabilities: renormalise, ``Clip``, ``Log``, ``Mul``, ``ReduceSum``, ``Neg``;
* binary, logits: ``Relu(x) - x * t + Softplus(-|x|)`` (ONNX has no ``Log1p``; ``Softplus`` is the
  accurate piece);
* binary, probabilities: ``Clip``, then ``-(t Log(p) + (1 - t) Log(1 - p))``.

The loss operators want the class axis at position 1: other axes are moved
there with ``Transpose``, a rank-1 input is ``Unsqueeze``d to a batch of one.
The Keras glue of :mod:`.keras_semantics` is traced in the same graph
(``Where``, ``Equal``, ``ReduceSum``, ``ReduceMean``, ``Expand``, ...). A graph
cannot raise on a label value: what the operators do with labels outside
[0, K) is onnxruntime's. Devices: ``cpu`` (``CPUExecutionProvider``) and
``cuda`` (``CUDAExecutionProvider``, refused when onnxruntime lacks it).
onnxruntime has no bfloat16 kernels for these operators on the CPU, so bfloat16
is not declared.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..base import Capabilities, ErrorRule
from . import keras_semantics as ks
from .base import ALL_FORMS, ALL_LOSSES, ALL_PARAMS, ALL_REDUCTIONS, GLUE_ERROR_RULES, PortAdapter

__all__ = ["Sym", "OnnxBackend", "OnnxRuntimePortAdapter", "OPSET"]

OPSET = 21
IR_VERSION = 10
_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


@dataclass(frozen=True)
class Sym:
    """A value of the graph being built: its name, dtype and static shape."""

    name: str
    dtype: str
    shape: tuple[int, ...]


class OnnxBackend(ks.Backend):
    """Keras-glue operations that add nodes to an ONNX graph; :meth:`evaluate` runs it with onnxruntime."""

    name = "onnxruntime"
    per_case = True  # a fresh graph for every case

    def __init__(self, device: str = "cpu") -> None:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        self.onnx, self.ort, self.helper, self.numpy_helper = onnx, ort, helper, numpy_helper
        self.provider = _PROVIDERS[device]
        self.types = {"float16": TensorProto.FLOAT16, "bfloat16": TensorProto.BFLOAT16,
                      "float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE, "int32": TensorProto.INT32,
                      "int64": TensorProto.INT64, "bool": TensorProto.BOOL}
        self.nodes: list[Any] = []
        self.producer: dict[str, Any] = {}  # output name -> node
        self.feeds: dict[str, np.ndarray] = {}  # graph inputs and their values
        self.consts: dict[str, Any] = {}  # initializers
        self.values: dict[str, np.ndarray] = {}  # evaluated syms
        self._ids = itertools.count()

    # -- graph building
    def _name(self, stem: str) -> str:
        return f"{stem}_{next(self._ids)}"

    def _node(self, op: str, inputs: Sequence[Any], dtype: str, shape: Sequence[int], **attrs: Any) -> Sym:
        out = Sym(self._name(op.lower()), dtype, tuple(int(d) for d in shape))
        node = self.helper.make_node(op, [i.name if isinstance(i, Sym) else i for i in inputs], [out.name], **attrs)
        self.nodes.append(node)
        self.producer[out.name] = node
        return out

    def _const(self, value: Any, dtype: str) -> Sym:
        arr = np.asarray(value, dtype=np.dtype(dtype))
        s = Sym(self._name("const"), dtype, tuple(arr.shape))
        self.consts[s.name] = self.numpy_helper.from_array(arr, s.name)
        return s

    def _ints(self, values: Sequence[int]) -> Sym:
        return self._const(np.asarray(list(values), dtype=np.int64), "int64")

    def _operand(self, x: Any, like: Sym) -> Sym:
        return x if isinstance(x, Sym) else self._const(x, like.dtype)

    def _binary(self, op: str, a: Any, b: Any) -> Sym:
        like = a if isinstance(a, Sym) else b
        a, b = self._operand(a, like), self._operand(b, like)
        if a.dtype != b.dtype:
            raise TypeError(f"ONNX {op} needs equal input types, got {a.dtype} and {b.dtype}")
        return self._node(op, [a, b], a.dtype, np.broadcast_shapes(a.shape, b.shape))

    # -- tensors
    def tensor(self, a: Any, dtype: str) -> Sym:
        arr = np.asarray(a, dtype=np.dtype(dtype))
        s = Sym(self._name("input"), dtype, tuple(arr.shape))
        self.feeds[s.name] = arr
        return s

    def to_numpy(self, t: Sym) -> np.ndarray:
        if t.name in self.values:
            return self.values[t.name]
        return self.to_numpy(self.evaluate(t)[0])

    def evaluate(self, *ts: Sym) -> tuple[Sym, ...]:
        """Run the part of the graph that computes ``ts``; the results come back as new graph inputs."""
        needed_nodes, needed_inputs, needed_consts = [], set(), set()
        seen: set[str] = set()
        stack = [t.name for t in ts]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.feeds:
                needed_inputs.add(name)
            elif name in self.consts:
                needed_consts.add(name)
            elif name in self.producer:
                node = self.producer[name]
                needed_nodes.append(node)
                stack.extend(node.input)
        wanted = {id(n) for n in needed_nodes}
        order = [n for n in self.nodes if id(n) in wanted]
        h = self.helper
        outs = []
        for t in ts:  # an output must be produced by a node of the graph
            out = Sym(self._name("out"), t.dtype, t.shape)
            order.append(h.make_node("Identity", [t.name], [out.name]))
            outs.append(out)
        graph = h.make_graph(
            order, "xentspec_port",
            [h.make_tensor_value_info(n, self.types[str(_dtype_name(self.feeds[n].dtype))], self.feeds[n].shape)
             for n in sorted(needed_inputs)],
            [h.make_tensor_value_info(o.name, self.types[o.dtype], None) for o in outs],
            initializer=[self.consts[n] for n in sorted(needed_consts)])
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)], producer_name="xentspec")
        model.ir_version = IR_VERSION
        opts = self.ort.SessionOptions()
        opts.log_severity_level = 3  # operator errors surface as exceptions; do not also log them
        session = self.ort.InferenceSession(model.SerializeToString(), opts, providers=[self.provider])
        results = session.run([o.name for o in outs], {n: self.feeds[n] for n in needed_inputs})
        new = []
        for t, r in zip(ts, results):
            s = self.tensor(np.asarray(r), t.dtype)
            self.values[s.name] = self.feeds[s.name]
            new.append(s)
        return tuple(new)

    def shape(self, t: Sym) -> tuple[int, ...]:
        return t.shape

    def dtype(self, t: Sym) -> str:
        return t.dtype

    def cast(self, t: Sym, dtype: str) -> Sym:
        if t.dtype == dtype:
            return t
        return self._node("Cast", [t], dtype, t.shape, to=self.types[dtype])

    def full(self, shape: Sequence[int], value: float, dtype: str) -> Sym:
        return self._const(np.full(tuple(shape), value), dtype)

    # -- shapes
    def squeeze(self, t: Sym, axis: int) -> Sym:
        axis %= len(t.shape)
        return self._node("Squeeze", [t, self._ints([axis])], t.dtype, t.shape[:axis] + t.shape[axis + 1:])

    def expand_dims(self, t: Sym, axis: int) -> Sym:
        axis %= len(t.shape) + 1
        return self._node("Unsqueeze", [t, self._ints([axis])], t.dtype, t.shape[:axis] + (1,) + t.shape[axis:])

    def reshape(self, t: Sym, shape: Sequence[int]) -> Sym:
        return self._node("Reshape", [t, self._ints(shape)], t.dtype, tuple(shape))

    def broadcast_to(self, t: Sym, shape: Sequence[int]) -> Sym:
        # ONNX Expand broadcasts both ways (numpy's t * ones(shape)), unlike broadcast_to: the
        # result may be larger than ``shape``; an incompatible pair is a ValueError naming both.
        return self._node("Expand", [t, self._ints(shape)], t.dtype, np.broadcast_shapes(t.shape, tuple(shape)))

    # -- arithmetic
    def add(self, a: Any, b: Any) -> Sym:
        return self._binary("Add", a, b)

    def subtract(self, a: Any, b: Any) -> Sym:
        return self._binary("Sub", a, b)

    def multiply(self, a: Any, b: Any) -> Sym:
        return self._binary("Mul", a, b)

    def divide(self, a: Any, b: Any) -> Sym:
        return self._binary("Div", a, b)

    def divide_no_nan(self, a: Sym, b: Sym) -> Sym:
        zero = self._node("Equal", [b, self._const(0, b.dtype)], "bool", b.shape)
        safe = self.where(zero, 1, b)
        return self.where(zero, 0, self.divide(a, safe))

    def where(self, cond: Sym, a: Any, b: Any) -> Sym:
        like = a if isinstance(a, Sym) else b
        a, b = self._operand(a, like), self._operand(b, like)
        return self._node("Where", [cond, a, b], like.dtype, np.broadcast_shapes(cond.shape, a.shape, b.shape))

    def not_equal(self, t: Sym, value: float) -> Sym:
        v = int(value) if t.dtype.startswith("int") and float(value).is_integer() else value
        eq = self._node("Equal", [t, self._const(v, t.dtype)], "bool", t.shape)
        return self._node("Not", [eq], "bool", t.shape)

    def _reduce(self, op: str, t: Sym, axis: Any, keepdims: bool = False) -> Sym:
        rank = len(t.shape)
        axes = list(range(rank)) if axis is None else [a % rank for a in ([axis] if isinstance(axis, int) else axis)]
        shape = tuple(1 if i in axes else d for i, d in enumerate(t.shape)) if keepdims else \
            tuple(d for i, d in enumerate(t.shape) if i not in axes)
        if not axes:  # a scalar: nothing to reduce
            return t
        return self._node(op, [t, self._ints(axes)], t.dtype, shape, keepdims=int(keepdims))

    def sum(self, t: Sym, axis: Any = None) -> Sym:
        return self._reduce("ReduceSum", t, axis)

    def mean(self, t: Sym, axis: Any = None) -> Sym:
        return self._reduce("ReduceMean", t, axis)

    # -- kernels
    def _unary(self, op: str, t: Sym, **attrs: Any) -> Sym:
        return self._node(op, [t], t.dtype, t.shape, **attrs)

    def _clip(self, p: Sym) -> Sym:
        return self._node("Clip", [p, self._const(ks.EPSILON, p.dtype), self._const(1.0 - ks.EPSILON, p.dtype)],
                          p.dtype, p.shape)

    def _renormalised_clipped(self, p: Sym, axis: int) -> Sym:
        return self._clip(self.divide(p, self._reduce("ReduceSum", p, [axis], keepdims=True)))

    def _class_axis_1(self, t: Sym, axis: int) -> Sym:
        rank = len(t.shape)
        if axis == 1:
            return t
        perm = [d for d in range(rank) if d != axis]
        perm.insert(1, axis)
        return self._node("Transpose", [t], t.dtype, tuple(t.shape[d] for d in perm), perm=perm)

    def sparse_xent(self, labels: Sym, y_pred: Sym, from_logits: bool, axis: int) -> Sym:
        unbatch = len(y_pred.shape) == 1
        if unbatch:
            x, lab = self.expand_dims(y_pred, 0), self.expand_dims(labels, 0)
        else:
            x, lab = self._class_axis_1(y_pred, axis), labels
        if from_logits:
            out = self._node("SoftmaxCrossEntropyLoss", [x, lab], x.dtype, lab.shape, reduction="none")
        else:
            logp = self._unary("Log", self._renormalised_clipped(x, 1))
            out = self._node("NegativeLogLikelihoodLoss", [logp, lab], x.dtype, lab.shape, reduction="none")
        return self.squeeze(out, 0) if unbatch else out

    def categorical_xent(self, y_true: Sym, y_pred: Sym, from_logits: bool, axis: int) -> Sym:
        if from_logits:
            logp = self._unary("LogSoftmax", y_pred, axis=axis)
        else:
            logp = self._unary("Log", self._renormalised_clipped(y_pred, axis))
        return self._unary("Neg", self._reduce("ReduceSum", self.multiply(y_true, logp), [axis]))

    def binary_xent(self, y_true: Sym, y_pred: Sym, from_logits: bool) -> Sym:
        if from_logits:
            x = y_pred
            softplus = self._unary("Softplus", self._unary("Neg", self._unary("Abs", x)))
            return self.add(self.subtract(self._unary("Relu", x), self.multiply(x, y_true)), softplus)
        p = self._clip(y_pred)
        pos = self.multiply(y_true, self._unary("Log", p))
        neg = self.multiply(self.subtract(1.0, y_true), self._unary("Log", self.subtract(1.0, p)))
        return self._unary("Neg", self.add(pos, neg))


def _dtype_name(dt: np.dtype) -> str:
    return "bool" if dt == np.bool_ else str(dt)


class OnnxRuntimePortAdapter(PortAdapter):
    """The Keras 3 losses as ONNX graphs (``SoftmaxCrossEntropyLoss``, ``NegativeLogLikelihoodLoss``, plain ops)."""

    base_name = "onnxruntime"
    wraps = "onnxruntime (ONNX opset 21 graphs)"
    module = "onnxruntime"
    distributions = ("onnxruntime", "onnx")
    install = 'pip install "xentspec[onnx]"'
    devices = ("cpu", "cuda")
    declared = Capabilities(dtypes=frozenset({"float16", "float32", "float64"}), forms=ALL_FORMS,
                            losses=ALL_LOSSES, params=ALL_PARAMS, reductions=ALL_REDUCTIONS)
    error_rules = GLUE_ERROR_RULES + (
        # GatherElements (inside the loss operators' function bodies) on a class index >= K.
        ErrorRule("invalid_label", Exception, r"out of range value in index"),
        ErrorRule("invalid_shape", ValueError, r"shape|broadcast"),
    )

    def modules(self) -> tuple[str, ...]:
        """onnx (to build graphs) and onnxruntime (to run them) must both be installed."""
        return ("onnx", "onnxruntime")

    def check_device(self, device: str) -> str | None:
        """cuda needs onnxruntime's CUDAExecutionProvider (the onnxruntime-gpu build)."""
        import onnxruntime as ort

        have = ort.get_available_providers()
        if _PROVIDERS[device] not in have:
            return f"onnxruntime {ort.__version__} has no {_PROVIDERS[device]} (it has {', '.join(have)})"
        return None

    def make_backend(self) -> ks.Backend:
        """A fresh :class:`OnnxBackend` (one graph per case)."""
        return OnnxBackend(self.device)
