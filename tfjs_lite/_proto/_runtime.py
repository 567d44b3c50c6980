"""Build message classes from serialized descriptors on any protobuf runtime (4.21 .. 7.x).

Not generated: this is the small piece of glue that replaces protoc's Python output. It uses only
APIs that exist across the whole supported range:

* ``DescriptorPool.AddSerializedFile`` (every version);
* ``message_factory.GetMessageClass`` (4.22+), falling back to ``MessageFactory.GetPrototype``
  (4.21, removed in 6.x);
* ``enum_type_wrapper.EnumTypeWrapper`` (every version).

The pool is private, not ``descriptor_pool.Default()``: our schemas are TensorFlow-compatible on the
wire but not byte-identical to TensorFlow's, and the C++/upb default pool refuses a second,
different definition of ``tensorflow/core/framework/graph.proto`` when TensorFlow is loaded too.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FileDescriptor
from google.protobuf.internal import enum_type_wrapper
from google.protobuf.message import Message

from tfjs_lite._proto import _descriptors

__all__ = ["POOL", "enum_type", "file_descriptor", "message_class"]


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for _name, serialized in _descriptors.FILES:
        pool.AddSerializedFile(serialized)
    return pool


POOL = _build_pool()

_get_message_class = getattr(message_factory, "GetMessageClass", None)
_legacy_factory: Any = None if _get_message_class else message_factory.MessageFactory(POOL)


def file_descriptor(name: str) -> FileDescriptor:
    """The FileDescriptor of one schema, e.g. ``tensorflow/core/framework/graph.proto``."""
    return POOL.FindFileByName(name)


def message_class(full_name: str) -> type[Message]:
    """The message class for ``full_name``, with nested messages and enums as attributes."""
    return _class_for(POOL.FindMessageTypeByName(full_name))


def _class_for(descriptor: Descriptor) -> type[Message]:
    if _get_message_class is not None:
        cls = _get_message_class(descriptor)
    else:
        cls = _legacy_factory.GetPrototype(descriptor)
    # upb attaches nested types itself; the pure-Python runtime only does so in protoc's output.
    for nested in descriptor.nested_types:
        if not hasattr(cls, nested.name):
            setattr(cls, nested.name, _class_for(nested))
    for enum in descriptor.enum_types:
        if not hasattr(cls, enum.name):
            setattr(cls, enum.name, enum_type_wrapper.EnumTypeWrapper(enum))
        for value in enum.values:
            if not hasattr(cls, value.name):
                setattr(cls, value.name, value.number)
    return cls


def enum_type(full_name: str) -> enum_type_wrapper.EnumTypeWrapper:
    """A top-level enum wrapper (``DataType.Name(1) == "DT_FLOAT"``, ``DataType.Value(...)``)."""
    descriptor: EnumDescriptor = POOL.FindEnumTypeByName(full_name)
    return enum_type_wrapper.EnumTypeWrapper(descriptor)
