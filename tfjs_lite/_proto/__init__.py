"""Protobuf classes for TensorFlow's file formats (and ONNX's), built at import time.

Import the module of the schema you need, e.g. ``from tfjs_lite._proto import saved_model_pb2``.
Modules are named after TensorFlow's schema files (``graph_pb2``, ``tensor_bundle_pb2``, ...),
their classes after TensorFlow's messages, and the wire format is TensorFlow's; ``onnx_pb2``
holds ONNX's messages (package ``onnx``).

The classes come from serialized descriptors via ``descriptor_pool``/``message_factory`` rather
than from protoc's Python output, so one copy works on every protobuf runtime from 4.21 to 7.x;
see proto/README.md. They live in a private descriptor pool: loading TensorFlow's own ``*_pb2``
modules in the same process does not conflict. This package is deliberately not imported by
``tfjs_lite/__init__.py`` so that ``import tfjs_lite`` stays cheap.
"""
