"""Signed values (embedtornado.web.signing) against Tornado 6.6.1: same bytes, both ways.

Also the XSRF token formats, decoded by each framework's handler from the
other's tokens.
"""

from __future__ import annotations

import base64

import pytest
import tornado.web
from hypothesis import given, settings
from hypothesis import strategies as st
from sectools import handler_cookies, make
from webtools import LogCapture

import embedtornado.web
from embedtornado.web import (
    DEFAULT_SIGNED_VALUE_MIN_VERSION,
    DEFAULT_SIGNED_VALUE_VERSION,
    MAX_SUPPORTED_SIGNED_VALUE_VERSION,
    MIN_SUPPORTED_SIGNED_VALUE_VERSION,
    create_signed_value,
    decode_signed_value,
    get_signature_key_version,
)

SECRET = "0123456789abcdef-not-a-real-secret"
NOW = 1_700_000_000.0


def clock() -> float:
    return NOW


def outcome(fn, *args, **kwargs):
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as e:
        return (type(e).__name__,)


def test_constants_match_tornado():
    assert (DEFAULT_SIGNED_VALUE_VERSION, DEFAULT_SIGNED_VALUE_MIN_VERSION,
            MIN_SUPPORTED_SIGNED_VALUE_VERSION, MAX_SUPPORTED_SIGNED_VALUE_VERSION) == (
        tornado.web.DEFAULT_SIGNED_VALUE_VERSION, tornado.web.DEFAULT_SIGNED_VALUE_MIN_VERSION,
        tornado.web.MIN_SUPPORTED_SIGNED_VALUE_VERSION,
        tornado.web.MAX_SUPPORTED_SIGNED_VALUE_VERSION) == (2, 1, 1, 2)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("value", ["hello", b"\x00\xff bytes|with:pipes", "", "é" * 50])
def test_same_bytes_as_tornado(version, value):
    ours = create_signed_value(SECRET, "name", value, version=version, clock=clock)
    theirs = tornado.web.create_signed_value(SECRET, "name", value, version=version, clock=clock)
    assert ours == theirs
    assert ours.isascii()


def test_version_2_layout():
    signed = create_signed_value(SECRET, "user", "alice", clock=clock)
    head, sig = signed.rsplit(b"|", 1)
    assert head == b"2|1:0|10:1700000000|4:user|8:YWxpY2U="
    assert len(sig) == 64  # hex SHA-256


@pytest.mark.parametrize("version", [1, 2])
def test_tornado_values_decode_here_and_back(version):
    for value in ("v", "a longer value with spaces", b"\x00\x01\x02"):
        expected = value.encode() if isinstance(value, str) else value
        theirs = tornado.web.create_signed_value(SECRET, "c", value, version=version)
        assert decode_signed_value(SECRET, "c", theirs) == expected
        assert decode_signed_value(SECRET, "c", theirs.decode()) == expected
        ours = create_signed_value(SECRET, "c", value, version=version)
        assert tornado.web.decode_signed_value(SECRET, "c", ours) == expected


def test_key_versions_both_ways():
    secrets = {0: "old secret", 1: "new secret", 7: b"bytes secret"}
    for key_version in (0, 1, 7):
        theirs = tornado.web.create_signed_value(secrets, "c", "v", key_version=key_version)
        ours = create_signed_value(secrets, "c", "v", key_version=key_version)
        assert decode_signed_value(secrets, "c", theirs) == b"v"
        assert tornado.web.decode_signed_value(secrets, "c", ours) == b"v"
        assert get_signature_key_version(ours) == key_version
        assert tornado.web.get_signature_key_version(ours) == key_version
    # Signed with key 1 but checked against a dict without it: refused.
    ours = create_signed_value(secrets, "c", "v", key_version=1)
    assert decode_signed_value({0: "old secret"}, "c", ours) is None
    # The key version is part of the signed text: changing it breaks the signature.
    forged = ours.replace(b"2|1:1|", b"2|1:0|", 1)
    assert decode_signed_value({0: "new secret", 1: "new secret"}, "c", forged) is None


def test_dict_secret_needs_key_version():
    with pytest.raises(ValueError, match="key_version"):
        create_signed_value({0: "a"}, "c", "v")
    with pytest.raises(ValueError, match="version 1"):
        create_signed_value({0: "a"}, "c", "v", version=1, key_version=0)
    with pytest.raises(ValueError, match="Unsupported version 3"):
        create_signed_value(SECRET, "c", "v", version=3)


def test_version_1_with_dict_secret_is_none_not_a_crash():
    v1 = create_signed_value("a", "c", "v", version=1)
    with pytest.raises(AssertionError):  # what Tornado does: a 500 anyone can trigger
        tornado.web.decode_signed_value({0: "a"}, "c", v1)
    assert decode_signed_value({0: "a"}, "c", v1) is None


@pytest.mark.parametrize("version", [1, 2])
def test_wrong_name_secret_or_age(version):
    signed = create_signed_value(SECRET, "a", "v", version=version, clock=clock)
    with LogCapture("embedtornado", "tornado"):
        assert decode_signed_value(SECRET, "a", signed, clock=clock) == b"v"
        assert decode_signed_value(SECRET, "b", signed, clock=clock) is None
        assert decode_signed_value("other", "a", signed, clock=clock) is None
        day = 86400
        assert decode_signed_value(SECRET, "a", signed, clock=lambda: NOW + 31 * day) == b"v"
        assert decode_signed_value(SECRET, "a", signed, clock=lambda: NOW + 32 * day) is None
        assert decode_signed_value(SECRET, "a", signed, max_age_days=1,
                                   clock=lambda: NOW + 2 * day) is None
        assert decode_signed_value(SECRET, "a", signed, max_age_days=0.5,
                                   clock=lambda: NOW + 3600) == b"v"


def test_min_version():
    v1 = create_signed_value(SECRET, "a", "v", version=1)
    v2 = create_signed_value(SECRET, "a", "v", version=2)
    assert decode_signed_value(SECRET, "a", v1, min_version=2) is None
    assert decode_signed_value(SECRET, "a", v2, min_version=2) == b"v"
    for web in (embedtornado.web, tornado.web):
        with pytest.raises(ValueError, match="Unsupported min_version 3"):
            web.decode_signed_value(SECRET, "a", v2, min_version=3)


def test_version_1_future_and_leading_zero_timestamps_are_refused():
    with LogCapture("embedtornado.general", "tornado.general") as logs:
        future = create_signed_value(SECRET, "a", "v", version=1, clock=lambda: NOW + 40 * 86400)
        assert decode_signed_value(SECRET, "a", future, clock=clock) is None
        assert tornado.web.decode_signed_value(SECRET, "a", future, clock=clock) is None
        # Moving a digit from the payload to the timestamp keeps the v1 signature
        # valid (its fields are not delimited); the leading zero is what gives it away.
        stamp = b"0" + str(int(NOW)).encode()
        payload = base64.b64encode(b"123")
        bad = b"|".join([payload, stamp,
                         embedtornado.web.signing._signature_v1(SECRET, "a", payload, stamp)])
        assert decode_signed_value(SECRET, "a", bad, clock=clock) is None
        assert tornado.web.decode_signed_value(SECRET, "a", bad, clock=clock) is None
    ours = [r.getMessage().split(" b'")[0] for r in logs.by("embedtornado.general")]
    theirs = [r.getMessage().split(" b'")[0] for r in logs.by("tornado.general")]
    assert ours == theirs == ["Cookie timestamp in future; possible tampering", "Tampered cookie"]


def test_every_single_byte_change_is_refused():
    for version in (1, 2):
        signed = create_signed_value(SECRET, "name", "payload", version=version, clock=clock)
        with LogCapture("embedtornado", "tornado"):
            for i in range(len(signed)):
                for replacement in (b"0", b"A", b"|", b":"):
                    forged = signed[:i] + replacement + signed[i + 1:]
                    if forged == signed:
                        continue
                    assert decode_signed_value(SECRET, "name", forged, clock=clock) in (
                        None,), (version, i, forged)
            assert decode_signed_value(SECRET, "name", signed[:-1], clock=clock) is None
            assert decode_signed_value(SECRET, "name", signed + b"0", clock=clock) is None


MALFORMED = [
    None, "", b"", "|", "||", "|||", "2|", "2||||", "2|1:0|", "2|a:0|", "2|1:0|10:",
    "2|1:0|10:1700000000|1:a|1:dg==|", "2|-1:0|10:1700000000|1:a|1:v|x", "2|99999999999:0",
    "3|x", "999|x", "1000|x", "0|x", "01|x", "2|1:x|10:1700000000|1:a|4:dg==|00",
    "YQ==|1700000000|", "YQ==|abc|def", "\ud800", "é|é|é", "2|1:0|1:é|1:a|1:a|a",
]


@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_values_are_none_like_tornado(value):
    with LogCapture("embedtornado", "tornado"):
        ours = outcome(decode_signed_value, SECRET, "a", value, clock=clock)
        theirs = outcome(tornado.web.decode_signed_value, SECRET, "a", value, clock=clock)
    assert ours == ("ok", None)
    assert theirs in (("ok", None), ("UnicodeEncodeError",))
    if value is not None:
        ours_kv = outcome(get_signature_key_version, value)
        theirs_kv = outcome(tornado.web.get_signature_key_version, value)
        assert ours_kv == ("ok", None)
        assert theirs_kv in (("ok", None), ("UnicodeEncodeError",))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=80), st.text(max_size=80)),
       st.sampled_from([1, 2]), st.integers(min_value=0, max_value=5))
def test_random_values_decode_like_tornado(value, version, key_version):
    """Arbitrary payloads round-trip identically; arbitrary garbage is refused by both."""
    signed = create_signed_value(SECRET, "n", value, version=version, clock=clock)
    assert signed == tornado.web.create_signed_value(SECRET, "n", value, version=version,
                                                     clock=clock)
    expected = value if isinstance(value, bytes) else value.encode()
    assert decode_signed_value(SECRET, "n", signed, clock=clock) == expected
    keyed = {key_version: SECRET}
    signed2 = create_signed_value(keyed, "n", value, clock=clock, key_version=key_version)
    assert tornado.web.decode_signed_value(keyed, "n", signed2, clock=clock) == expected
    if isinstance(value, bytes):
        with LogCapture("embedtornado", "tornado"):
            ours = decode_signed_value(SECRET, "n", value, clock=clock)
            theirs = outcome(tornado.web.decode_signed_value, SECRET, "n", value, clock=clock)
        assert ours is None and theirs[0] == "ok"
        if not any(c in value for c in b" +_\t\n\r\x0b\x0c"):  # Tornado's lenient int()
            assert ("ok", get_signature_key_version(value)) == outcome(
                tornado.web.get_signature_key_version, value)


# --- through the handler: signed cookies and their errors --------------------------------


def test_handler_requires_cookie_secret():
    for web in (embedtornado.web, tornado.web):
        h = make(web)
        for name, args in (("set_signed_cookie", ("a", "b")), ("get_signed_cookie", ("a",)),
                           ("create_signed_value", ("a", "b")),
                           ("get_signed_cookie_key_version", ("a",))):
            with pytest.raises(Exception, match="You must define the 'cookie_secret' setting "
                               "in your application to use secure cookies"):
                getattr(h, name)(*args)


def test_handler_dict_secret_needs_key_version_setting():
    for web in (embedtornado.web, tornado.web):
        h = make(web, cookie_secret={0: "a"})
        with pytest.raises(Exception, match="key_version setting must be used"):
            h.create_signed_value("a", "b")


def test_handler_signed_cookie_read_by_the_other_framework():
    secrets = {1: "k1", 2: "k2"}
    for maker, reader in ((embedtornado.web, tornado.web), (tornado.web, embedtornado.web)):
        h = make(maker, cookie_secret=secrets, key_version=2)
        h.set_signed_cookie("user", "alice")
        value = handler_cookies(h)["user"]
        r = make(reader, headers={"Cookie": "user=" + value}, cookie_secret=secrets,
                 key_version=1)
        assert r.get_signed_cookie("user") == b"alice"
        assert r.get_secure_cookie("user") == b"alice"
        assert r.get_signed_cookie_key_version("user") == 2
        assert r.get_secure_cookie_key_version("user") == 2
        assert r.get_signed_cookie("missing") is None
        assert r.get_signed_cookie_key_version("missing") is None
        assert r.get_signed_cookie("other", value=value) is None  # signed for "user"
        assert r.get_signed_cookie("user", value=value, min_version=2) == b"alice"


def test_old_names_are_aliases():
    h = embedtornado.web.RequestHandler
    assert h.set_secure_cookie is h.set_signed_cookie
    assert h.get_secure_cookie is h.get_signed_cookie
    assert h.get_secure_cookie_key_version is h.get_signed_cookie_key_version


# --- XSRF tokens: each framework decodes the other's --------------------------------------


@pytest.mark.parametrize("cookie_version", [1, 2])
def test_xsrf_tokens_cross_decode(cookie_version):
    for maker, reader in ((embedtornado.web, tornado.web), (tornado.web, embedtornado.web)):
        h = make(maker, xsrf_cookie_version=cookie_version)
        token = h.xsrf_token
        cookie = handler_cookies(h)["_xsrf"]
        assert cookie == token.decode()
        _, raw, _ = h._get_raw_xsrf_token()
        assert len(raw) == 16
        r = make(reader)
        version, decoded, _ = r._decode_xsrf_token(token.decode())
        assert (version, decoded) == (cookie_version, raw)
        # The reader, given the maker's cookie, produces a token the maker accepts.
        r = make(reader, headers={"Cookie": "_xsrf=" + cookie})
        again = r.xsrf_token
        assert handler_cookies(r) == {}  # an existing cookie is not set again
        m = make(maker, method="POST", headers={"Cookie": "_xsrf=" + cookie,
                                                "X-XSRFToken": again.decode()})
        m.check_xsrf_cookie()  # no exception: accepted


def test_xsrf_token_is_masked_afresh_each_request():
    h = make(embedtornado.web)
    first = h.xsrf_token
    assert h.xsrf_token is first  # once per request
    cookie = handler_cookies(h)["_xsrf"]
    tokens = {make(embedtornado.web, headers={"Cookie": "_xsrf=" + cookie}).xsrf_token
              for _ in range(5)}
    assert len(tokens) == 5
    raws = {make(embedtornado.web)._decode_xsrf_token(t.decode())[1] for t in tokens}
    assert raws == {h._get_raw_xsrf_token()[1]}


XSRF_GARBAGE = ["", "2|", "2|zz|00|1", "2|0000|00|1", "2|00000000|0|1", "2|00000000|00|x",
                "2|00000000|00|1|5", "3|00000000|00|1", "1|abcd", "\xff", "not hex", "abcd"]


@pytest.mark.parametrize("token", XSRF_GARBAGE)
def test_xsrf_decode_garbage_like_tornado(token):
    ours = make(embedtornado.web)._decode_xsrf_token(token)
    with LogCapture("tornado"):
        theirs = make(tornado.web)._decode_xsrf_token(token)
    assert ours[:2] == theirs[:2]


def test_xsrf_unknown_output_version():
    for web in (embedtornado.web, tornado.web):
        with pytest.raises(ValueError, match="unknown xsrf cookie version 3"):
            _ = make(web, xsrf_cookie_version=3).xsrf_token


def test_lenient_integer_fields_are_refused():
    """A documented difference: Tornado's int() reads "+5" and " 5"; only forgers write them."""
    for odd in (b"+5", b" 5", b"0_5"):
        value = b"2|%d:%s|1:1|1:n|0:|" % (len(odd), odd)
        assert tornado.web.get_signature_key_version(value) == 5
        assert get_signature_key_version(value) is None
    assert get_signature_key_version(b"2|1:5|1:1|1:n|0:|") == 5
