"""A safe XML parser for readers: no DTD, no entity declaration, no external reference.

Built on the standard library's expat (the parser ``xml.etree`` uses) with its
declaration handlers set to refuse, in the way of ``defusedxml``: the checks
run on what the parser decodes, so they hold in any encoding (UTF-8, UTF-16,
UTF-32, with or without a byte-order mark), unlike a search of the raw bytes.
Nothing a file declares is expanded, so an entity cannot add readings and a
"billion laughs" file cannot exhaust memory.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from xml.parsers import expat

__all__ = ["UnsafeXMLError", "parse_xml"]


class UnsafeXMLError(ValueError):
    """The document declares a DTD, an entity or an external reference."""


def _refuse(what: str) -> Any:
    def handler(*_args: Any) -> None:
        raise UnsafeXMLError(f"it declares {what}, which is not read")
    return handler


def parse_xml(data: bytes) -> ET.Element:
    """The root element of ``data``; raises ``UnsafeXMLError`` or ``ET.ParseError``."""
    builder = ET.TreeBuilder()
    data, encoding = _utf32_as_utf8(data)
    parser = expat.ParserCreate(encoding)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse("a DTD (<!DOCTYPE>)")
    parser.EntityDeclHandler = _refuse("an entity (<!ENTITY>)")
    parser.UnparsedEntityDeclHandler = _refuse("an unparsed entity")
    parser.ExternalEntityRefHandler = _refuse("an external entity")
    parser.NotationDeclHandler = _refuse("a notation")
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = lambda tag: builder.end(tag)
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        error = ET.ParseError(str(exc))
        error.code, error.position = exc.code, (exc.lineno, exc.offset)
        raise error from None
    return builder.close()


_UTF32_STARTS = {b"\xff\xfe\x00\x00": "utf-32", b"\x00\x00\xfe\xff": "utf-32",
                 b"<\x00\x00\x00": "utf-32-le", b"\x00\x00\x00<": "utf-32-be"}


def _utf32_as_utf8(data: bytes) -> tuple[bytes, str | None]:
    """Expat reads UTF-8 and UTF-16 itself; UTF-32 is decoded here and handed over as UTF-8."""
    codec = _UTF32_STARTS.get(data[:4])
    if codec is None:
        return data, None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise ET.ParseError(f"not valid {codec.upper()}: {exc.reason} at byte {exc.start}") from None
    return text.lstrip("\ufeff").encode("utf-8"), "UTF-8"  # the override beats the declaration
