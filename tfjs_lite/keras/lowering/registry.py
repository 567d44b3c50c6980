"""The one registry of Keras layer lowerings: Keras class name → the function that lowers a call.

A lowering takes a :class:`~tfjs_lite.keras.lowering.model.LayerCall` (the layer's config, its
input tensors with static shapes, its weights by name) and returns the output tensors, emitting
TF ops that TF.js 4.22's graph executor runs. Adding a layer: write the function next to its
relatives and add one line here (its weights, if any, go in :mod:`tfjs_lite.keras.layers`).
Classes missing here (Lambda, custom classes, ...) are refused by name before anything is lowered.
"""

from __future__ import annotations

from tfjs_lite.keras.config import OP_CLASS_PREFIX
from tfjs_lite.keras.lowering import attention, conv, core, keras_ops, normalization, rnn
from tfjs_lite.keras.lowering.model import Lowering

__all__ = ["LOWERINGS"]

# fmt: off
LOWERINGS: dict[str, Lowering] = {
    # core
    "Dense": core.dense,
    "Activation": core.activation_layer,
    "Identity": core.identity,
    "Dropout": core.identity, "AlphaDropout": core.identity, "GaussianDropout": core.identity,
    "GaussianNoise": core.identity, "SpatialDropout1D": core.identity, "SpatialDropout2D": core.identity,
    "SpatialDropout3D": core.identity, "ActivityRegularization": core.identity,
    "Embedding": core.embedding,
    "Masking": core.masking,
    # activation layers
    "ReLU": core.relu,
    "LeakyReLU": core.leaky_relu,
    "PReLU": core.prelu,
    "LayerScale": core.layer_scale,
    "CustomScaleLayer": core.custom_scale,
    "ELU": core.elu,
    "ThresholdedReLU": core.thresholded_relu,
    "Softmax": core.softmax_layer,
    # reshaping
    "Flatten": core.flatten,
    "Reshape": core.reshape,
    "Permute": core.permute,
    "RepeatVector": core.repeat_vector,
    # merging
    "Add": core.add, "Subtract": core.subtract, "Multiply": core.multiply, "Average": core.average,
    "Maximum": core.maximum, "Minimum": core.minimum, "Concatenate": core.concatenate, "Dot": core.dot,
    # convolution
    "Conv1D": conv.conv, "Conv2D": conv.conv, "Conv3D": conv.conv,
    "Conv1DTranspose": conv.conv_transpose, "Conv2DTranspose": conv.conv_transpose,
    "Conv3DTranspose": conv.conv_transpose,
    "DepthwiseConv1D": conv.depthwise_conv, "DepthwiseConv2D": conv.depthwise_conv,
    "SeparableConv1D": conv.separable_conv, "SeparableConv2D": conv.separable_conv,
    # pooling
    "MaxPooling1D": conv.pooling, "MaxPooling2D": conv.pooling, "MaxPooling3D": conv.pooling,
    "AveragePooling1D": conv.pooling, "AveragePooling2D": conv.pooling, "AveragePooling3D": conv.pooling,
    "GlobalMaxPooling1D": conv.global_pooling, "GlobalMaxPooling2D": conv.global_pooling,
    "GlobalMaxPooling3D": conv.global_pooling, "GlobalAveragePooling1D": conv.global_pooling,
    "GlobalAveragePooling2D": conv.global_pooling, "GlobalAveragePooling3D": conv.global_pooling,
    # padding, cropping, resizing
    "ZeroPadding1D": conv.zero_padding, "ZeroPadding2D": conv.zero_padding, "ZeroPadding3D": conv.zero_padding,
    "Cropping1D": conv.cropping, "Cropping2D": conv.cropping, "Cropping3D": conv.cropping,
    "UpSampling1D": conv.upsampling, "UpSampling2D": conv.upsampling, "UpSampling3D": conv.upsampling,
    # preprocessing
    "Rescaling": core.rescaling,
    "Normalization": core.normalization,
    "Resizing": conv.resizing,
    "CenterCrop": conv.center_crop,
    # normalisation
    "BatchNormalization": normalization.batch_normalization,
    "LayerNormalization": normalization.layer_normalization,
    "GroupNormalization": normalization.group_normalization,
    "UnitNormalization": core.unit_normalization,
    # recurrent
    "SimpleRNN": rnn.recurrent, "GRU": rnn.recurrent, "LSTM": rnn.recurrent, "RNN": rnn.recurrent,
    "ConvLSTM2D": rnn.recurrent,
    "Bidirectional": rnn.bidirectional,
    "TimeDistributed": rnn.time_distributed,
    # attention
    "MultiHeadAttention": attention.multi_head_attention,
    "Attention": attention.attention,
    "AdditiveAttention": attention.additive_attention,
    # keras.ops calls recorded in Keras 3 functional models: "ops.Add", "ops.Multiply", ...
    **{OP_CLASS_PREFIX + name: lowering for name, lowering in keras_ops.OPS.items()},
    # tf.keras 2 TFOpLambda: the TF functions of config.TF_OP_FUNCTIONS, as the keras.ops call each equals
    "TFOpLambda": keras_ops.tf_op_lambda,
}
# fmt: on
