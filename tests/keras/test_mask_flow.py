"""Where Keras sequence masks flow in a model config (``keras/ranks.py`` ``masked_inputs``), for the
layers-path refusal of layers in which tfjs-layers 4.22 treats a mask unlike Keras. The TF.js proof
is the fixtures ``masked_sequences`` (converts, matches) and ``refuse_masked_*`` (refused)."""

from __future__ import annotations

from tfjs_lite.keras.preflight import check_model
from tfjs_lite.keras.ranks import masked_inputs


def _layer(name: str, class_name: str, inbound: list[str], **config) -> dict:
    return {"class_name": class_name, "name": name, "config": {"name": name, **config},
            "inbound_nodes": [[[n, 0, 0, {}] for n in inbound]] if inbound else []}


def _functional(*layers: dict) -> dict:
    return {"class_name": "Functional", "config": {"name": "m", "layers": list(layers),
                                                   "input_layers": [["ids", 0, 0]], "output_layers": []}}


def test_masks_start_at_sources_pass_carriers_and_sequence_rnns_and_stop_elsewhere():
    model = _functional(
        _layer("ids", "InputLayer", [], batch_input_shape=[None, 8]),
        _layer("embed", "Embedding", ["ids"], mask_zero=True),
        _layer("plain", "Embedding", ["ids"], mask_zero=False),
        _layer("dense", "Dense", ["embed"]),
        _layer("seq", "LSTM", ["dense"], return_sequences=True),
        _layer("last", "GRU", ["seq"], return_sequences=False),
        _layer("after_last", "Dense", ["last"]),
        _layer("bi", "Bidirectional", ["seq"], layer={"class_name": "LSTM", "config": {"return_sequences": False}}),
        _layer("after_bi", "Dense", ["bi"]),
        _layer("conv", "Conv1D", ["seq"]),
        _layer("after_conv", "GRU", ["conv"]),
        _layer("joined", "Concatenate", ["plain", "seq"]),
        _layer("after_join", "Dense", ["joined"]),
        _layer("unmasked", "Dense", ["plain"]),
    )
    assert masked_inputs(model) == {"dense", "seq", "last", "bi", "conv", "joined", "after_join"}


def test_sequential_models_flow_in_order():
    model = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        _layer("embed", "Embedding", [], mask_zero=True, batch_input_shape=[None, 8]),
        _layer("lstm", "LSTM", [], return_sequences=True),
        _layer("pool", "GlobalAveragePooling1D", []),
        _layer("out", "Dense", []),
    ]}}
    assert masked_inputs(model) == {"lstm", "pool"}
    assert [(i.layer, i.class_name) for i in check_model(model, keras3=False)] == [("pool", "GlobalAveragePooling1D")]


def test_layers_without_a_mask_are_not_refused_for_it():
    model = _functional(
        _layer("ids", "InputLayer", [], batch_input_shape=[None, 8]),
        _layer("embed", "Embedding", ["ids"]),
        _layer("conv", "Conv1D", ["embed"], filters=2, kernel_size=3),
        _layer("pool", "GlobalAveragePooling1D", ["conv"]),
    )
    assert masked_inputs(model) == set()
    assert not [i for i in check_model(model, keras3=False) if "mask" in i.problem]
