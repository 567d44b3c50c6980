"""The tfjs-layers 4.22 support check."""

from __future__ import annotations

import pytest

from tfjs_lite.errors import UnsupportedLayerError
from tfjs_lite.keras.preflight import LayerIssue, check_model, refusal


def _model(*layers):
    return {"class_name": "Functional", "config": {"name": "m", "layers": list(layers)}}


def _layer(class_name, name="x", **config):
    return {"class_name": class_name, "name": name, "config": {"name": name, **config}}


def _problems(model, keras3=False):
    return [(i.layer, i.class_name, i.problem) for i in check_model(model, keras3=keras3)]


def test_supported_model_has_no_issues():
    model = _model(
        _layer("InputLayer", "in", batch_input_shape=[None, 4], dtype="float32"),
        _layer(
            "Dense",
            "d",
            units=3,
            activation="gelu",
            dtype="float32",
            kernel_initializer={"class_name": "GlorotUniform", "config": {}},
        ),  # fmt: skip
        _layer("GRU", "g", units=2, reset_after=False, activation="tanh", recurrent_activation="sigmoid"),
        _layer("Bidirectional", "bi", layer=_layer("LSTM", "l", units=2)),
    )
    assert _problems(model) == []


@pytest.mark.parametrize(
    ("layer", "fragment"),
    [
        (_layer("Lambda", function=["opaque"]), "Python code"),
        (_layer("Fixtures>ScaleShift"), "custom"),
        (_layer("MultiHeadAttention"), "not a layer class"),
        (_layer("GRU", units=2, reset_after=True), "reset_after"),
        (_layer("Dense", units=2, activation="exponential"), "exponential"),
        (_layer("ReLU", negative_slope=0.1), "negative_slope"),
        (_layer("Conv2D", filters=2, groups=2), "groups"),
        (_layer("Conv1D", filters=2, padding="causal"), "causal"),
        (_layer("Dense", units=2, dtype="mixed_float16"), "mixed_float16"),
        (_layer("Dense", units=2, kernel_initializer={"class_name": "MyInit", "config": {}}), "MyInit"),
        (_layer("Dense", units=2, kernel_regularizer={"class_name": "L2", "config": {}}), "L2"),
        (_layer("InputLayer", batch_input_shape=[None, 2], sparse=True), "sparse"),
        (_layer("ELU", alpha=0.5), "alpha"),
        (_layer("LayerNormalization", rms_scaling=True), "rms_scaling"),
        (_layer("Dense", units=2, activation={"class_name": "function", "config": "f"}), "serialized"),
    ],
)
def test_unsupported_layers_and_options(layer, fragment):
    problems = _problems(_model(layer))
    assert len(problems) == 1 and fragment in problems[0][2], problems


def test_keras3_hard_sigmoid_differs():
    layer = _layer("Dense", units=2, activation="hard_sigmoid")
    assert _problems(_model(layer)) == []
    assert "hard_sigmoid" in _problems(_model(layer), keras3=True)[0][2]


def test_nested_layers_are_checked():
    inner = {
        "class_name": "Sequential",
        "name": "inner",
        "config": {"name": "inner", "layers": [_layer("Lambda", "lam")]},
    }
    td = _layer("TimeDistributed", "td", layer=_layer("Lambda", "lam2"))
    rnn = _layer("RNN", "r", cell={"class_name": "MyCell", "config": {"name": "c"}})
    assert [(p[0], p[1]) for p in _problems(_model(inner, td, rnn))] == [
        ("lam", "Lambda"), ("lam2", "Lambda"), ("c", "MyCell"),
    ]  # fmt: skip


def test_refusal_lists_everything_on_one_line():
    error = refusal([LayerIssue("a", "Lambda", "runs Python code"), LayerIssue("g", "GRU", "reset_after")])
    assert isinstance(error, UnsupportedLayerError)
    text = str(error)
    assert "\n" not in text and "a (Lambda)" in text and "g (GRU)" in text and "2 layers" in text
    assert "tfjs_graph_model" in text and "--force" in text
