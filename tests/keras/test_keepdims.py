"""keepdims global pooling → pooling + Reshape with the channel count written out."""

from __future__ import annotations

from tfjs_lite.keras.keepdims import channels, expand_keepdims_pooling, unresolved_keepdims


def _layer(name, cls, inbound=None, **config):
    entry = {"class_name": cls, "name": name, "config": {"name": name, **config}}
    if inbound:
        entry["inbound_nodes"] = [[[n, 0, 0, {}] for n in inbound]]
    return entry


def _model(*layers):
    return {"class_name": "Functional", "config": {"layers": list(layers), "output_layers": [["pool", 0, 0]]}}


def test_channels_walk_back_to_the_layer_that_sets_them():
    model = _model(_layer("x", "InputLayer", batch_input_shape=[None, 8, 8, 3]),
                   _layer("conv", "Conv2D", ["x"], filters=16),
                   _layer("dw", "DepthwiseConv2D", ["conv"], depth_multiplier=2),
                   _layer("bn", "BatchNormalization", ["dw"]),
                   _layer("cat", "Concatenate", ["bn", "x"], axis=-1),
                   _layer("pool", "GlobalAveragePooling2D", ["cat"], keepdims=True))
    assert channels(model, "cat") == 35 and unresolved_keepdims(model) == []
    out = expand_keepdims_pooling(model)["config"]["layers"]
    assert [(x["class_name"], x["name"]) for x in out[-2:]] == [("GlobalAveragePooling2D", "pool/pool"),
                                                              ("Reshape", "pool")]
    assert out[-1]["config"]["target_shape"] == [1, 1, 35] and "keepdims" not in out[-2]["config"]
    assert out[-1]["inbound_nodes"] == [[["pool/pool", 0, 0, {}]]]


def test_unknown_channels_are_reported_not_guessed():
    model = _model(_layer("x", "InputLayer", batch_input_shape=[None, 8, 8, 3]),
                   _layer("code", "TFOpLambda", ["x"]),
                   _layer("pool", "GlobalMaxPooling2D", ["code"], keepdims=True))
    assert unresolved_keepdims(model) == ["pool"]
    assert expand_keepdims_pooling(model)["config"]["layers"][-1]["class_name"] == "GlobalMaxPooling2D"
