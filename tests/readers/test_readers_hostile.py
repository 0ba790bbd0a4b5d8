"""Hostile reader input: XML declarations in any encoding, placeholder weights, and parser
failures nobody foresaw, each a ``ReaderError`` naming the file (cause chained)."""

from __future__ import annotations

import _csv
import warnings
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfoNotFoundError

import numpy as np
import pytest

from dt1d.data.readers import Reader, ReaderError, _registry, read, read_ohio
from dt1d.data.readers._safexml import UnsafeXMLError, parse_xml
from dt1d.exceptions import DataValidationError, PlausibilityWarning

_EVENT = '<event ts="07-12-2021 10:{:02d}:00" value="{}"/>'
_GLUCOSE = "".join(_EVENT.format(5 * i, 100 + i) for i in range(12))


def _patient(body: str = _GLUCOSE, weight: str = "80", decl: str = "", encoding: str = "UTF-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n{decl}'
        f'<patient id="1" weight="{weight}"><glucose_level>{body}</glucose_level></patient>\n'
    )


_SIX = "".join(_EVENT.format(5 * i, 400) for i in range(6))
DECLARATIONS = {
    "internal entity": (f'<!DOCTYPE patient [<!ENTITY six \'{_SIX}\'>]>\n', "&six;"),
    "external entity": ('<!DOCTYPE patient [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n', "&x;"),
    "parameter entity": ('<!DOCTYPE patient [<!ENTITY % p SYSTEM "http://example.invalid/x">%p;]>\n', ""),
    "billion laughs": (
        '<!DOCTYPE patient [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + "]>\n", "&i;"),
    "external DTD": ('<!DOCTYPE patient SYSTEM "http://example.invalid/ohio.dtd">\n', ""),
    "empty DTD": ("<!DOCTYPE patient>\n", ""),
}
ENCODINGS = {"UTF-8": "utf-8", "UTF-8 BOM": "utf-8-sig", "UTF-16": "utf-16", "UTF-16LE": "utf-16-le",
             "UTF-16BE": "utf-16-be", "UTF-32": "utf-32", "UTF-32LE": "utf-32-le"}


def _encoded(text: str, codec: str) -> bytes:
    data = text.encode(codec)
    if codec in ("utf-16-le", "utf-16-be", "utf-32-le"):  # expat needs the BOM to detect these
        data = "\ufeff".encode(codec) + data
    return data


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("kind", DECLARATIONS)
def test_any_declaration_in_any_encoding_is_refused(tmp_path, kind, encoding):
    decl, ref = DECLARATIONS[kind]
    label = "UTF-8" if encoding.startswith("UTF-8") else encoding.split("L")[0].split("B")[0]
    text = _patient(body=_GLUCOSE + ref, decl=decl, encoding=label)
    path = tmp_path / "p.xml"
    path.write_bytes(_encoded(text, ENCODINGS[encoding]))
    with pytest.raises(ReaderError, match="refused: it declares") as info:
        read_ohio(path)
    assert str(path) in str(info.value)
    assert b"<!DOCTYPE" not in path.read_bytes() or encoding.startswith("UTF-8")  # no byte match


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_plain_file_reads_the_same_in_every_encoding(tmp_path, encoding):
    label = "UTF-8" if encoding.startswith("UTF-8") else encoding.split("L")[0].split("B")[0]
    reference = tmp_path / "ref.xml"
    reference.write_text(_patient(), encoding="utf-8")
    path = tmp_path / "p.xml"
    path.write_bytes(_encoded(_patient(encoding=label), ENCODINGS[encoding]))
    got, want = read_ohio(path), read_ohio(reference)
    np.testing.assert_array_equal(got["glucose"].to_numpy(), want["glucose"].to_numpy())
    assert len(got) == 12 and got.attrs["body_weight_kg"] == 80.0


def test_an_undeclared_entity_is_not_well_formed(tmp_path):
    path = tmp_path / "p.xml"
    path.write_text(_patient(body=_GLUCOSE + "&six;"))
    with pytest.raises(ReaderError, match="not well-formed"):
        read_ohio(path)


def test_parse_xml_keeps_the_standard_elements_and_text():
    root = parse_xml(b'<a x="1"><b>t&amp;u</b><c/></a>')
    assert root.tag == "a" and root.get("x") == "1" and root.find("b").text == "t&u"
    with pytest.raises(UnsafeXMLError):
        parse_xml(b"<!DOCTYPE a><a/>")
    with pytest.raises(ET.ParseError):
        parse_xml(b"<a>")


@pytest.mark.parametrize("weight", ["-99", "0", "0.0", "-1", "NaN", "nan", "inf", "-inf", "1e9",
                                    "1.5", "401"])
def test_a_placeholder_or_impossible_weight_is_dropped_with_a_warning(tmp_path, weight):
    path = tmp_path / "p.xml"
    path.write_text(_patient(weight=weight))
    with pytest.warns(PlausibilityWarning, match="not a body weight") as info:
        record = read_ohio(path)
    assert "body_weight_kg" not in record.attrs
    assert str(path) in str(info[0].message)


@pytest.mark.parametrize(("weight", "kg"), [("99", 99.0), ("3.2", 3.2), ("400", 400.0), (" 72.5 ", 72.5)])
def test_a_real_weight_is_kept(tmp_path, weight, kg):
    path = tmp_path / "p.xml"
    path.write_text(_patient(weight=weight))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)
        assert read_ohio(path).attrs["body_weight_kg"] == kg


# -- the catch-all at read() --------------------------------------------------------------------

@pytest.fixture
def table(monkeypatch):
    monkeypatch.setattr(_registry, "_TABLE", dict(_registry._TABLE))
    return _registry._TABLE


UNFORESEEN = [
    _csv.Error("field larger than field limit (131072)"),
    RecursionError("maximum recursion depth exceeded while decoding a JSON array"),
    OverflowError("date value out of range"),
    ZoneInfoNotFoundError("No time zone found with key Mars/Olympus"),
    TypeError("unhashable type: 'list'"),
    KeyError("sgv"),
    ValueError("x" * 5_000_000),
    MemoryError(),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
]


@pytest.mark.parametrize("error", UNFORESEEN, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("fmt", ["explicit", "auto"])
def test_an_unforeseen_parser_exception_becomes_a_reader_error_naming_the_file(tmp_path, table, error, fmt):
    def broken(path, **options):
        raise error

    _registry.register_reader(Reader("broken", broken, lambda path, head: head.startswith(b"BROKEN")))
    path = tmp_path / "data.txt"
    path.write_bytes(b"BROKEN data")
    with pytest.raises(ReaderError) as info:
        read(path, format="broken" if fmt == "explicit" else "auto")
    text = str(info.value)
    assert str(path) in text and "broken" in text and type(error).__name__ in text
    assert len(text) < 600
    assert info.value.__cause__ is error  # the bug stays visible to -v and debuggers


def test_dt1d_errors_from_a_reader_pass_unchanged(tmp_path, table):
    original = DataValidationError("glucose is negative", code="negative", column="glucose")

    def reader(path, **options):
        raise original

    _registry.register_reader(Reader("picky", reader, lambda path, head: False))
    path = tmp_path / "data.txt"
    path.write_text("x")
    with pytest.raises(DataValidationError) as info:
        read(path, format="picky")
    assert info.value is original


def test_ctrl_c_in_a_reader_is_not_swallowed(tmp_path, table):
    def reader(path, **options):
        raise KeyboardInterrupt

    _registry.register_reader(Reader("slow", reader, lambda path, head: False))
    path = tmp_path / "data.txt"
    path.write_text("x")
    with pytest.raises(KeyboardInterrupt):
        read(path, format="slow")
