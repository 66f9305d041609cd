"""
A small ONNX interpreter for the tests: runs the graphs export_onnx.py writes (the ops they use, ONNX semantics,
float32) with numpy, so the exported graphs are checked against model.py where no onnxruntime is installed
(Debian ships python3-onnx 1.12, which has no onnx.reference). Not a general runtime: an op it does not know fails.
"""

import math

import numpy as np
from onnx import numpy_helper

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _attr(node):
    out = {}
    for a in node.attribute:
        if a.type == a.INT:
            out[a.name] = a.i
        elif a.type == a.FLOAT:
            out[a.name] = a.f
        elif a.type == a.INTS:
            out[a.name] = list(a.ints)
        elif a.type == a.TENSOR:
            out[a.name] = numpy_helper.to_array(a.t)
    return out


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _layer_norm(x, w, b=None, axis=-1, epsilon=1e-5, **_):
    axes = tuple(range(axis % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + np.float32(epsilon))
    return (y * w + (0 if b is None else b)).astype(np.float32)


def _slice(x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[int(a)] = slice(int(s), int(e), int(st))
    return x[tuple(index)]


def _reduce(f, x, axes=None, keepdims=1):
    return f(x, axis=None if axes is None else tuple(int(a) for a in axes), keepdims=bool(keepdims))


_CAST = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}


def _run(op, ins, at):
    if op == "Constant":
        return at["value"]
    if op in ("Add", "Sub", "Mul", "Div", "Pow", "And", "Greater", "LessOrEqual", "Equal"):
        a, b = ins
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power, "And": np.logical_and,
             "Greater": np.greater, "LessOrEqual": np.less_equal, "Equal": np.equal}.get(op)
        if op == "Div":
            return (a // b) if np.issubdtype(a.dtype, np.integer) else (a / b)
        r = f(a, b)
        return r.astype(a.dtype) if op in ("Add", "Sub", "Mul", "Pow") else r
    if op == "Mod":
        return np.mod(ins[0], ins[1])
    if op == "Neg":
        return -ins[0]
    if op == "Not":
        return np.logical_not(ins[0])
    if op == "Reciprocal":
        return (1 / ins[0]).astype(ins[0].dtype)
    if op == "Erf":
        return _erf(ins[0]).astype(ins[0].dtype)
    if op == "Tanh":
        return np.tanh(ins[0])
    if op == "Sqrt":
        return np.sqrt(ins[0])
    if op == "Cast":
        return ins[0].astype(_CAST[at["to"]])
    if op == "Clip":
        x, lo, hi = (ins + [None, None])[:3]
        return np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi).astype(x.dtype)
    if op == "Where":
        return np.where(ins[0], ins[1], ins[2])
    if op == "MatMul":
        return np.matmul(ins[0], ins[1])
    if op == "Gemm":
        a, b = ins[0], ins[1]
        a = a.T if at.get("transA") else a
        b = b.T if at.get("transB") else b
        y = at.get("alpha", 1.0) * (a @ b)
        return (y + at.get("beta", 1.0) * ins[2] if len(ins) > 2 else y).astype(np.float32)
    if op == "Gather":
        return np.take(ins[0], ins[1].astype(np.int64), axis=at.get("axis", 0))
    if op == "Shape":
        return np.array(ins[0].shape, dtype=np.int64)
    if op == "Reshape":
        shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(ins[1])]
        return ins[0].reshape(shape)
    if op == "Transpose":
        return np.transpose(ins[0], at.get("perm"))
    if op == "Unsqueeze":
        x = ins[0]
        for a in sorted(int(a) % (x.ndim + len(ins[1])) for a in ins[1]):
            x = np.expand_dims(x, a)
        return x
    if op == "Squeeze":
        return np.squeeze(ins[0], axis=None if len(ins) < 2 else tuple(int(a) for a in ins[1]))
    if op == "Concat":
        return np.concatenate(ins, axis=at["axis"])
    if op == "Slice":
        return _slice(ins[0], *ins[1:])
    if op == "Range":
        return np.arange(ins[0], ins[1], ins[2]).astype(ins[0].dtype)
    if op == "Expand":
        return ins[0] * np.ones(ins[1], dtype=ins[0].dtype)
    if op == "Softmax":
        return _softmax(ins[0], at.get("axis", -1))
    if op == "LayerNormalization":
        return _layer_norm(*ins, **at)
    if op == "ReduceSum":
        return _reduce(np.sum, ins[0], ins[1] if len(ins) > 1 else None, at.get("keepdims", 1)).astype(ins[0].dtype)
    if op == "ReduceL2":
        return np.sqrt(_reduce(np.sum, ins[0] ** 2, at.get("axes"), at.get("keepdims", 1)))
    if op == "ReduceMean":
        return _reduce(np.mean, ins[0], at.get("axes"), at.get("keepdims", 1))
    if op == "ConstantOfShape":
        v = at.get("value", np.zeros(1, np.float32))
        return np.full(ins[0], v.reshape(-1)[0], dtype=v.dtype)
    raise NotImplementedError(f"onnx_eval: op {op} is not implemented")


def run(model, feeds):
    """Runs `model` (an onnx.ModelProto) on `feeds` {input name: numpy array} -> {output name: numpy array}."""
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env.update(feeds)
    for node in model.graph.node:
        ins = [env[n] if n else None for n in node.input]
        while ins and ins[-1] is None:
            ins.pop()
        out = _run(node.op_type, ins, _attr(node))
        env[node.output[0]] = np.asarray(out)
    return {o.name: env[o.name] for o in model.graph.output}
