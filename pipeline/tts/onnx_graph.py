"""Graph rewrite that makes onnxruntime run a Piper (VITS) voice faster on CPU, same audio.

Piper voices are exported from PyTorch with 1-D convolutions (tensors ``[N, C, T]``).
onnxruntime's fastest CPU convolutions, the NCHWc kernels of MLAS (blocked channels,
AVX2/AVX-512), are only used for 2-D convolutions: its ``NchwcTransformer`` skips every
``Conv`` whose input is not 4-D. :func:`conv1d_as_conv2d` restates each 1-D ``Conv`` and
``ConvTranspose`` as the 2-D one it equals (a height-1 image: weights ``[O, I, 1, K]``,
kernel/stride/dilation ``[1, k]``, pads ``[0, b, 0, e]``) and carries the 4-D tensors
on through the elementwise ops between convolutions, so the whole HiFi-GAN decoder runs
in the blocked layout instead of converting back and forth around each convolution. The
decoder's upsampling ``ConvTranspose`` layers, which have no blocked kernel, become
polyphase ``Conv`` layers (see :func:`_polyphase`).

onnxruntime keeps a tensor blocked only through ops it has blocked versions of: ``Add``
of two blocked tensors, ``Relu``/``Sigmoid``/``Tanh`` and convolutions (with a fused
activation). HiFi-GAN's ``LeakyRelu`` after a residual sum, its division of the summed
residual blocks by their count, and the interleaving after each polyphase upsampling
would each send the tensor back to NCHW and then reorder it into blocks again for the
next convolution (measured: 11 % of onnxruntime's time). So, on x86, the rewrite also
puts a 1x1 depthwise ``Conv`` (weight 1, no bias) under each such ``LeakyRelu`` (onnxruntime
then fuses the activation into it), states a product or division by a scalar as a 1x1
depthwise ``Conv`` of that weight, and turns each upsampling's output back into blocks
once, right after the interleave. Each of those is one cheap pass; the sums then stay
blocked (and fuse into the convolutions before them). Measured with two processes of
one thread on the 2-core VM (6 alternating rounds, 8,000 characters of prose each):
3.7 % less wall time than the rewrite without it.

The arithmetic is the same up to float rounding: on the bundled voice with the noise
scales at 0 (so runs are deterministic) the two graphs' outputs have the same length and
differ by at most 4.5e-5 of full scale (-87 dBFS). Measured on a 2-core AVX-512 VM, one
onnxruntime thread, a chapter of Alice: 17 % less CPU per second of speech (13 % without
the polyphase upsampling); ``bench/pipeline_vs_piper.py`` reports it per run as
``synthesis_cpu_ratio_raw_vs_engine``.
"""

from __future__ import annotations

import logging
import platform
from collections import Counter

import numpy as np
import onnx
from onnx import helper, numpy_helper

log = logging.getLogger(__name__)

_CONVS = ("Conv", "ConvTranspose")
# Elementwise ops that give the same result on [N, C, 1, T] as on [N, C, T].
_UNARY = frozenset(
    {
        "LeakyRelu",
        "Relu",
        "Tanh",
        "Sigmoid",
        "Elu",
        "Neg",
        "Abs",
        "Exp",
        "Softplus",
        "Erf",
        "Identity",
        "Cast",
    }
)
_BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"})
_AXIS = "conv2d_rewrite_axis_2"
_X86 = frozenset({"x86_64", "amd64", "i386", "i686"})
# Channels per block of onnxruntime's NCHWc layout (8 with AVX2, 16 with AVX-512): only
# tensors of a whole number of 16-channel blocks are kept blocked.
_BLOCK = 16
_SUFFIX = "__as_4d"


def conv1d_as_conv2d(model: onnx.ModelProto, blocked: bool | None = None) -> onnx.ModelProto:
    """Return a copy of ``model`` whose 1-D convolutions are 2-D ones over a height-1 axis
    (inserted as axis 2), with 4-D tensors kept through unary and binary elementwise ops
    whose other input is 4-D too or a constant of rank <= 1 (both broadcast alike).

    Only convolutions with constant 3-D weights used by convolutions alone are rewritten;
    a model with subgraphs (If/Loop) is returned unchanged. Every other consumer gets
    the original 3-D tensor back through a ``Squeeze``, under its original name.

    With ``blocked`` (default: on x86, where onnxruntime has its NCHWc kernels) the
    decoder's tensors of a whole number of channel blocks (:data:`_BLOCK`) are also kept
    in the blocked layout between convolutions (see the module docstring).
    """
    if blocked is None:
        blocked = platform.machine().lower() in _X86
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    if any(
        a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
        for n in graph.node
        for a in n.attribute
    ):
        return model
    inits = {i.name: i for i in graph.initializer}
    consts = {
        n.output[0]: a.t
        for n in graph.node
        if n.op_type == "Constant"
        for a in n.attribute
        if a.name == "value"
    }
    consts.update(inits)
    weight_users: dict[str, set[str]] = {}
    for n in graph.node:
        for pos, name in enumerate(n.input):
            if name in inits:
                weight_users.setdefault(name, set()).add(n.op_type if pos == 1 else "other")
    rewritable = {
        name
        for name, users in weight_users.items()
        if users <= set(_CONVS) and len(inits[name].dims) == 3
    }

    uses = Counter(x for n in graph.node for x in n.input) + Counter(o.name for o in graph.output)

    four: dict[str, str] = {}  # 3-D tensor name -> its 4-D version
    absent: set[str] = set()  # 3-D names whose producer now makes only the 4-D version
    channels: dict[
        str, int
    ] = {}  # 4-D name -> its channel count, where it is a whole number of blocks
    by_conv: set[str] = set()  # 4-D names a Conv makes
    nodes: list[onnx.NodeProto] = []

    def depthwise(x: str, c: int, scale: float, out: str) -> str:
        graph.initializer.append(
            numpy_helper.from_array(np.full((c, 1, 1, 1), scale, np.float32), f"{out}_dw")
        )
        nodes.append(
            helper.make_node("Conv", [x, f"{out}_dw"], [out], group=c, kernel_shape=[1, 1])
        )
        channels[out] = c
        by_conv.add(out)
        return out

    def as_4d(name: str) -> str:
        if name not in four:
            four[name] = name + _SUFFIX
            nodes.append(helper.make_node("Unsqueeze", [name, _AXIS], [four[name]]))
        return four[name]

    def restore_3d(name: str) -> None:
        if name in absent:
            nodes.append(helper.make_node("Squeeze", [four[name], _AXIS], [name]))
            absent.discard(name)

    def small_const(name: str) -> bool:
        return name in consts and len(consts[name].dims) <= 1

    def emit_4d(
        node: onnx.NodeProto,
        inputs: list[str],
        attributes: list[onnx.AttributeProto],
        c: int | None = None,
    ) -> None:
        out = node.output[0]
        new = helper.make_node(node.op_type, inputs, [out + _SUFFIX], name=node.name)
        new.attribute.extend(attributes)
        nodes.append(new)
        made(out, c, conv=node.op_type == "Conv")

    def made(out: str, c: int | None = None, conv: bool = False) -> str:
        """Record that ``out`` is now made only as its 4-D version (``c`` channels, by a
        Conv or not); return that version's name."""
        four[out] = out + _SUFFIX
        absent.add(out)
        if blocked and c is not None and c % _BLOCK == 0:
            channels[four[out]] = c
        if conv:
            by_conv.add(four[out])
        return four[out]

    def scalar(name: str) -> float | None:
        value = numpy_helper.to_array(consts[name]) if name in consts else None
        return (
            float(value.reshape(()))
            if value is not None and value.size == 1 and value.dtype == np.float32
            else None
        )

    for n in graph.node:
        if (
            n.op_type in _CONVS
            and len(n.input) > 1
            and n.input[1] in rewritable
            and len(n.output) == 1
        ):
            polyphase = _polyphase(n, inits) if n.op_type == "ConvTranspose" else None
            if polyphase is None:
                emit_4d(
                    n,
                    [as_4d(n.input[0]), *n.input[1:]],
                    [_attribute_2d(a) for a in n.attribute],
                    c=inits[n.input[1]].dims[0] if n.op_type == "Conv" else None,
                )
                continue
            new_inits, new_nodes, c_out = polyphase
            graph.initializer.extend(new_inits)
            new_nodes[0].input[0] = as_4d(n.input[0])
            new_nodes[-1].output[0] = n.output[0] + _SUFFIX
            nodes.extend(new_nodes)
            made(n.output[0], c_out)
            if (
                four[n.output[0]] in channels
            ):  # back into the blocked layout, for the sums that follow
                new_nodes[-1].output[0] = n.output[0] + "__interleaved"
                depthwise(new_nodes[-1].output[0], c_out, 1.0, four[n.output[0]])
        elif n.op_type in _UNARY and len(n.input) == 1 and n.input[0] in four:
            x = four[n.input[0]]
            if (
                n.op_type == "LeakyRelu"
                and x in channels
                and not (x in by_conv and uses[n.input[0]] == 1)
            ):
                x = depthwise(
                    x, channels[x], 1.0, f"{n.output[0]}__input"
                )  # a Conv it can be fused into
            emit_4d(n, [x], list(n.attribute), c=channels.get(x))
        elif (
            n.op_type in _BINARY
            and len(n.input) == 2
            and any(x in four for x in n.input)
            and all(x in four or small_const(x) for x in n.input)
        ):
            xs = [four.get(x, x) for x in n.input]
            c = next((channels[x] for x in xs if x in channels), None)
            factor = (
                scalar(n.input[1])
                if n.input[0] in four
                else scalar(n.input[0])
                if n.op_type == "Mul"
                else None
            )
            if c is not None and factor and n.op_type in ("Mul", "Div"):
                depthwise(
                    xs[0] if n.input[0] in four else xs[1],
                    c,
                    factor if n.op_type == "Mul" else 1.0 / factor,
                    made(n.output[0]),
                )
            else:
                emit_4d(n, xs, list(n.attribute), c=c)
        else:
            for x in n.input:
                restore_3d(x)
            nodes.append(n)
    for out in graph.output:
        restore_3d(out.name)
    used = {x for n in nodes for x in n.input} | {v.name for v in (*graph.input, *graph.output)}
    for name in rewritable:
        if name in used:
            inits[name].CopyFrom(
                numpy_helper.from_array(numpy_helper.to_array(inits[name])[:, :, None, :], name)
            )
    for (
        name,
        init,
    ) in inits.items():  # weights and biases only polyphase convolutions used: they have their own
        if name not in used and name in weight_users:
            graph.initializer.remove(init)
    graph.initializer.append(numpy_helper.from_array(np.array([2], np.int64), _AXIS))
    del graph.node[:]
    graph.node.extend(nodes)
    stale = [v for v in graph.value_info if v.name in absent]  # shapes of 3-D names no longer made
    for v in stale:
        graph.value_info.remove(v)
    return model


def _polyphase(
    node: onnx.NodeProto,
    inits: dict[str, onnx.TensorProto],
) -> tuple[list[onnx.TensorProto], list[onnx.NodeProto], int] | None:
    """A 1-D ``ConvTranspose`` (stride s, kernel k, one group, no dilation) as one 2-D
    ``Conv`` computing its s output phases as s x C_out channels, interleaved back into
    time by Reshape/Transpose/Reshape and cropped by Slice: the same sums (each output
    sample n = q*s + r - pad_begin takes the taps r, r + s, ... of the kernel), but run
    by the blocked convolution kernels instead of a GEMM plus col2im. Returns the new
    initializers and nodes (the first node's input 0 and the last node's output 0 are
    for the caller to set) and the output's channel count, or None when the node is not
    of that kind.
    """
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    weight = numpy_helper.to_array(inits[node.input[1]])  # [C_in, C_out, k]
    c_in, c_out, k = weight.shape
    s = int(attrs.get("strides", [1])[0])
    begin, end = (int(p) for p in attrs.get("pads", [0, 0]))
    extra = int(attrs.get("output_padding", [0])[0])
    bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
    if (
        s < 2
        or attrs.get("group", 1) != 1
        or list(attrs.get("dilations", [1])) != [1]
        or "output_shape" in attrs
        or (bias is not None and bias not in inits)
        or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")
    ):
        return None
    taps = -(-k // s)  # K: taps per phase
    cut = taps * s - k + end - extra  # samples to drop at the end of the full output
    if cut < 0:
        return None
    padded = np.zeros((c_in, c_out, taps * s), weight.dtype)
    padded[:, :, :k] = weight
    # poly[r*C_out + o, c, 0, u] = W[c, o, (K-1-u)*s + r]
    poly = (
        padded.reshape(c_in, c_out, taps, s)[:, :, ::-1, :]
        .transpose(3, 1, 0, 2)
        .reshape(s * c_out, c_in, 1, taps)
    )
    name = node.output[0] + "__polyphase"
    new_inits = [
        numpy_helper.from_array(np.ascontiguousarray(poly), f"{name}_w"),
        numpy_helper.from_array(np.array([0, s, c_out, -1], np.int64), f"{name}_phases"),
        numpy_helper.from_array(np.array([0, c_out, 1, -1], np.int64), f"{name}_time"),
        numpy_helper.from_array(np.array([begin], np.int64), f"{name}_start"),
        numpy_helper.from_array(
            np.array([-cut if cut else np.iinfo(np.int64).max], np.int64), f"{name}_end"
        ),
        numpy_helper.from_array(np.array([3], np.int64), f"{name}_axis"),
    ]
    conv_inputs = ["", f"{name}_w"]
    if bias is not None:
        new_inits.append(
            numpy_helper.from_array(np.tile(numpy_helper.to_array(inits[bias]), s), f"{name}_b")
        )
        conv_inputs.append(f"{name}_b")
    new_nodes = [
        helper.make_node(
            "Conv",
            conv_inputs,
            [f"{name}_z"],
            name=node.name,
            kernel_shape=[1, taps],
            pads=[0, taps - 1, 0, taps - 1],
        ),
        helper.make_node(
            "Reshape", [f"{name}_z", f"{name}_phases"], [f"{name}_p"]
        ),  # [N, s, C_out, Q]
        helper.make_node(
            "Transpose", [f"{name}_p"], [f"{name}_t"], perm=[0, 2, 3, 1]
        ),  # [N, C_out, Q, s]
        helper.make_node(
            "Reshape", [f"{name}_t", f"{name}_time"], [f"{name}_full"]
        ),  # [N, C_out, 1, Q*s]
        helper.make_node(
            "Slice", [f"{name}_full", f"{name}_start", f"{name}_end", f"{name}_axis"], [""]
        ),
    ]
    return new_inits, new_nodes, c_out


def _attribute_2d(attribute: onnx.AttributeProto) -> onnx.AttributeProto:
    """A 1-D convolution attribute as the 2-D one over (height 1, time)."""
    value = helper.get_attribute_value(attribute)
    if attribute.name in ("kernel_shape", "strides", "dilations"):
        value = [1, *value]
    elif attribute.name in ("output_padding", "output_shape"):
        value = [0 if attribute.name == "output_padding" else 1, *value]
    elif attribute.name == "pads":
        value = [0, value[0], 0, value[1]]
    return helper.make_attribute(attribute.name, value)


def faster_model_bytes(path: str) -> bytes | None:
    """The serialized, rewritten (:func:`conv1d_as_conv2d`) and checked model at ``path``,
    or None (logged) when the rewrite fails, so the caller loads the original instead."""
    try:
        model = conv1d_as_conv2d(onnx.load(path))
        onnx.checker.check_model(model)
        return model.SerializeToString()
    except Exception as exc:  # noqa: BLE001 - any failure means: run the voice as shipped
        log.warning("running %s without the Conv2d rewrite: %s", path, exc)
        return None
