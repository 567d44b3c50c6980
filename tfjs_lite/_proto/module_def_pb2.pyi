from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModuleDef(_message.Message):
    __slots__ = ("format", "required_features")
    class Format(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        FORMAT_UNSPECIFIED: _ClassVar[ModuleDef.Format]
        FORMAT_V3: _ClassVar[ModuleDef.Format]
    FORMAT_UNSPECIFIED: ModuleDef.Format
    FORMAT_V3: ModuleDef.Format
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    format: ModuleDef.Format
    required_features: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, format: _Optional[_Union[ModuleDef.Format, str]] = ..., required_features: _Optional[_Iterable[str]] = ...) -> None: ...
