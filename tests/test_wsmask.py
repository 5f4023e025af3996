"""WebSocket masking: both twins agree with a byte-by-byte reference."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from embedtornado import _accel
from embedtornado.util import _websocket_mask
from twins import implementations

IMPLS = implementations("wsmask")


def reference(mask: bytes, data: bytes) -> bytes:
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


@pytest.fixture(params=IMPLS, ids=lambda m: m.__name__.split(".")[1])
def wsmask(request):
    return request.param


@pytest.mark.parametrize("data", [b"", b"a", b"\x00" * 3, b"abcdefg", b"abcdefgh",
                                  b"\xff" * 17, bytes(range(256)) * 3])
def test_known_values(wsmask, data):
    mask = b"\x01\x80\xfe\x00"
    assert wsmask.websocket_mask(mask, data) == reference(mask, data)


def test_tornados_cases(wsmask):
    # The cases Tornado's own masking test uses: NUL bytes and the high bit.
    assert wsmask.websocket_mask(b"abcd", b"") == b""
    assert wsmask.websocket_mask(b"abcd", b"b") == b"\x03"
    assert wsmask.websocket_mask(b"abcd", b"54321") == b"TVPVP"
    assert wsmask.websocket_mask(b"ZXCV", b"98765432") == b"c`t`olpd"
    assert wsmask.websocket_mask(b"\x00\x01\x02\x03", b"\xff\xfb\xfd\xfc\xfe\xfa") == \
        b"\xff\xfa\xff\xff\xfe\xfb"
    assert wsmask.websocket_mask(b"\xff\xfb\xfd\xfc", b"\xfe\xfa\xfc\xfd\xff\xfb") == \
        b"\x01\x01\x01\x01\x00\x00"


def test_accepts_bytearray_and_memoryview(wsmask):
    assert wsmask.websocket_mask(bytearray(b"abcd"), memoryview(b"54321")) == b"TVPVP"


@pytest.mark.parametrize("mask", [b"", b"abc", b"abcde"])
def test_mask_must_be_four_bytes(wsmask, mask):
    with pytest.raises(ValueError, match="4-byte mask"):
        wsmask.websocket_mask(mask, b"data")


@given(mask=st.binary(min_size=4, max_size=4), data=st.binary(max_size=300))
def test_twins_agree_and_invert(mask, data):
    results = {m.websocket_mask(mask, data) for m in IMPLS}
    assert results == {reference(mask, data)}
    assert _websocket_mask(mask, _websocket_mask(mask, data)) == data


def test_live_implementation_is_the_selected_one():
    if not (_accel.NO_EXTENSIONS or _accel.REQUIRE_EXTENSIONS):
        pytest.skip("neither EMBEDTORNADO_NO_EXTENSIONS nor _REQUIRE_EXTENSIONS is set")
    assert _accel.speedups()["wsmask"] == ("python" if _accel.NO_EXTENSIONS else "cython")
    assert _websocket_mask.__module__ == _accel.load("wsmask").__name__


def test_reads_any_byte_buffer(wsmask):
    # The WebSocket parser passes bytearray slices; strided views are copied first.
    data = bytearray(b"\x00\x01\xfe\xff" * 5 + b"xyz")
    mask = b"\x0f\xf0\x55\xaa"
    expected = reference(mask, bytes(data))
    assert wsmask.websocket_mask(mask, data) == expected
    assert wsmask.websocket_mask(mask, memoryview(data)) == expected
    strided = memoryview(bytes(range(40)))[::2]
    assert wsmask.websocket_mask(mask, strided) == reference(mask, strided.tobytes())


def test_tornados_private_python_mask_name_is_the_twin():
    # Tornado's own tests import util._websocket_mask_python to compare with
    # the compiled mask; ours is the pure-Python twin.
    import tornado.util

    from embedtornado import util
    from embedtornado._pure import wsmask

    assert util._websocket_mask_python is wsmask.websocket_mask
    for mask, data in [(b"abcd", b""), (b"abcd", b"hello"), (b"\xff\x00\x80\x01", bytes(range(256)))]:
        assert util._websocket_mask_python(mask, data) == \
            tornado.util._websocket_mask_python(mask, data)
