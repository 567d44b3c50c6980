"""Typed errors. Every error a user can cause is a ConversionError with a one-line message.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; anything that is not
a ConversionError is an internal fault (exit status 1).
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "ConversionError",
    "InternalError",
    "InvariantError",
    "ModelFormatError",
    "OutputPathError",
    "PassError",
    "UnsupportedFormatError",
    "UnsupportedLayerError",
    "UnsupportedModelError",
    "UnsupportedOpError",
    "UsageError",
    "one_line",
]

# Characters that must not reach a terminal raw: controls (newline, ESC, NUL), format characters
# (bidi overrides), lone surrogates, private use, line/paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def _escape(char: str) -> str:
    if char == " " or unicodedata.category(char) not in _ESCAPED_CATEGORIES:
        return char
    code = ord(char)
    if code < 0x100:
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{code:02x}")
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def one_line(text: object) -> str:
    """``text`` as one printable line: control and other invisible characters escaped (``\\n``,
    ``\\x1b``, ``\\udc80``), runs of spaces collapsed. Every error message passes through here."""
    return " ".join(part for part in "".join(_escape(c) for c in str(text)).split(" ") if part)


class ConversionError(Exception):
    """Base of every error caused by the input, the options or the output path (exit status 2)."""

    exit_code = 2

    def __init__(self, message: str, *, path: object | None = None) -> None:
        # Messages must stay on one line: the CLI prints exactly one line per error.
        if path is not None:
            message = f"{path}: {message}"
        super().__init__(one_line(message))
        self.path = path


class UsageError(ConversionError):
    """Bad command-line flags or API options."""


class ModelFormatError(ConversionError):
    """The input file is missing, truncated, corrupt or not the format it claims to be."""


class UnsupportedFormatError(ConversionError):
    """A valid input/output format pair that tfjs-lite does not convert (yet)."""


class UnsupportedModelError(ConversionError):
    """A well-formed model that uses something the target cannot represent."""


class UnsupportedLayerError(UnsupportedModelError):
    """Keras layers or layer options that tfjs-layers 4.22 cannot load."""


class UnsupportedOpError(UnsupportedModelError):
    """TF ops that TF.js 4.22 cannot execute."""


class OutputPathError(ConversionError):
    """The output path cannot be written as asked (it is a file, it is the input's folder, ...)."""


class InternalError(Exception):
    """A bug in tfjs-lite, not in the input (exit status 1)."""

    exit_code = 1


class InvariantError(InternalError):
    """A graph invariant was broken by the reader or by a pass."""


class PassError(InternalError):
    """An optimizer pass failed."""
