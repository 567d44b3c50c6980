"""Which weights a Keras layer owns, in Keras's order, and cheap shape checks against its config.

Keras (2 and 3) stores a layer's variables trainable first, then non-trainable, in creation order;
tfjs-layers names them the same way (``kernel``, ``bias``, ``gamma``, ...). Only layers tfjs-layers
can load are listed; a layer class missing here is treated as weightless by :func:`own_weights`
and the caller compares that with what the file holds.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

__all__ = ["RNN_CELLS", "cell_of", "check_shape", "own_weights"]

_CONV = {"Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "Conv3DTranspose", "Conv1DTranspose"}
_SEPARABLE = {"SeparableConv1D", "SeparableConv2D"}
_CELLS = {"LSTMCell", "GRUCell", "SimpleRNNCell", "ConvLSTM2DCell"}
# RNN layer class → the cell class it builds and the cell name tf.keras 2 gives it.
RNN_CELLS = {
    "LSTM": ("LSTMCell", "lstm_cell"),
    "GRU": ("GRUCell", "gru_cell"),
    "SimpleRNN": ("SimpleRNNCell", "simple_rnn_cell"),
    "ConvLSTM2D": ("ConvLSTM2DCell", "conv_lstm2d_cell"),
}


def _flag(config: Mapping[str, Any], key: str, default: bool = True) -> bool:
    value = config.get(key, default)
    return default if value is None else bool(value)


def own_weights(class_name: str, config: Mapping[str, Any]) -> list[str]:
    """The names of the variables ``class_name`` creates itself (not its sub-layers), in order."""
    bias = ["bias"] if _flag(config, "use_bias") else []
    if class_name in ("Dense", "EinsumDense") or class_name in _CONV:
        return ["kernel", *bias]
    if class_name == "DepthwiseConv2D" or class_name == "DepthwiseConv1D":
        return ["depthwise_kernel", *bias]
    if class_name in _SEPARABLE:
        return ["depthwise_kernel", "pointwise_kernel", *bias]
    if class_name == "BatchNormalization":
        gamma = ["gamma"] if _flag(config, "scale") else []
        beta = ["beta"] if _flag(config, "center") else []
        return [*gamma, *beta, "moving_mean", "moving_variance"]
    if class_name == "LayerNormalization":
        return (["gamma"] if _flag(config, "scale") else []) + (["beta"] if _flag(config, "center") else [])
    if class_name == "Embedding":
        return ["embeddings"]
    if class_name == "Normalization" and config.get("mean") is None:
        return ["mean", "variance", "count"]
    if class_name == "PReLU":
        return ["alpha"]
    if class_name in _CELLS:
        return ["kernel", "recurrent_kernel", *bias]
    return []


def cell_of(class_name: str, config: Mapping[str, Any]) -> Optional[tuple[str, dict[str, Any], str]]:
    """For an RNN layer: (cell class, cell config, tf.keras 2 cell name); None for other layers."""
    if class_name in RNN_CELLS:
        cell_class, cell_name = RNN_CELLS[class_name]
        return cell_class, dict(config), cell_name
    if class_name == "RNN":
        cell = config.get("cell")
        if isinstance(cell, Mapping) and isinstance(cell.get("config"), Mapping):
            cell_config = dict(cell["config"])
            return str(cell.get("class_name")), cell_config, str(cell_config.get("name") or "cell")
    return None


def _as_tuple(value: Any, rank: int) -> Optional[tuple[int, ...]]:
    if isinstance(value, int):
        return (value,) * rank
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return tuple(value)
    return None


_GATES = {"LSTMCell": 4, "GRUCell": 3, "SimpleRNNCell": 1, "ConvLSTM2DCell": 4}
_RANK = {"Conv1D": 1, "Conv2D": 2, "Conv3D": 3, "Conv1DTranspose": 1, "Conv2DTranspose": 2, "Conv3DTranspose": 3}


def check_shape(class_name: str, config: Mapping[str, Any], weight: str, shape: Sequence[int]) -> Optional[str]:
    """Why ``shape`` cannot be weight ``weight`` of this layer, or None if it is plausible."""
    shape = tuple(shape)
    units = config.get("units")
    if class_name == "Dense" and isinstance(units, int):
        if weight == "kernel" and (len(shape) != 2 or shape[1] != units):
            return f"kernel has shape {list(shape)} but units={units} needs [input_dim, {units}]"
        if weight == "bias" and shape != (units,):
            return f"bias has shape {list(shape)} but units={units} needs [{units}]"
    filters = config.get("filters")
    if class_name in _RANK and isinstance(filters, int):
        rank = _RANK[class_name]
        size = _as_tuple(config.get("kernel_size"), rank)
        out_axis = -2 if class_name.endswith("Transpose") else -1
        bad_kernel = len(shape) != rank + 2 or shape[out_axis] != filters or (size and shape[:rank] != size)
        if weight == "kernel" and bad_kernel:
            return f"kernel has shape {list(shape)}, which contradicts kernel_size={list(size or [])} filters={filters}"
        if weight == "bias" and shape != (filters,):
            return f"bias has shape {list(shape)} but filters={filters} needs [{filters}]"
    if class_name == "Embedding" and weight == "embeddings":
        want = (config.get("input_dim"), config.get("output_dim"))
        if all(isinstance(v, int) for v in want) and shape != want:
            return f"embeddings have shape {list(shape)} but the config says [{want[0]}, {want[1]}]"
    if class_name in _GATES and isinstance(units, int):
        width = _GATES[class_name] * units
        if weight == "recurrent_kernel" and class_name != "ConvLSTM2DCell" and shape != (units, width):
            return f"recurrent_kernel has shape {list(shape)} but units={units} needs [{units}, {width}]"
        if weight == "kernel" and (not shape or shape[-1] != width):
            return f"kernel has shape {list(shape)} but units={units} needs a last dimension of {width}"
        if weight == "bias" and shape not in ((width,), (2, width)):
            return f"bias has shape {list(shape)} but units={units} needs [{width}]"
    if class_name in ("BatchNormalization", "LayerNormalization") and len(shape) != 1 and weight != "":
        axis = config.get("axis")
        if isinstance(axis, int) or (isinstance(axis, list) and len(axis) == 1):
            return f"{weight} has shape {list(shape)} but a single normalization axis needs a 1-D weight"
    return None
