"""Signed, timestamped values: what signed cookies and Tornado's XSRF tokens are made of.

A signed value carries a string, the time it was signed and an HMAC, so a
client can hold it without being able to forge or alter it::

    from embedtornado.web import create_signed_value, decode_signed_value

    secret = "a long random string, e.g. secrets.token_urlsafe(32)"
    token = create_signed_value(secret, "user", "alice")      # bytes, ASCII only
    decode_signed_value(secret, "user", token)                 # b"alice"
    decode_signed_value(secret, "user", token, max_age_days=0)  # None: too old
    decode_signed_value(secret, "other", token)                # None: another name

The formats are Tornado's, byte for byte, so values signed by Tornado 6.6.1
with the same secret decode here and the reverse:

* **Version 2** (the default)::

      2|<len>:<key_version>|<len>:<timestamp>|<len>:<name>|<len>:<base64 value>|<hex signature>

  Every field but the first and the last is length-prefixed in decimal.
  The signature is the hex HMAC-SHA256 of everything before it (the final
  ``|`` included). ``key_version`` is ``0`` unless the secret is a dict of
  key versions (``{0: "old secret", 1: "new secret"}``), in which case the
  value is signed with ``secret[key_version]`` and checked with whichever
  key its own ``key_version`` field names, which lets secrets be rotated.

* **Version 1** (read by default, written only on request)::

      <base64 value>|<timestamp>|<hex HMAC-SHA1 of name + value + timestamp>

  Its signature does not separate the fields, so a timestamp more than 31
  days in the future or with a leading zero is refused.

Signatures are compared with `hmac.compare_digest`. A value that is forged,
malformed, expired, for another name or signed with an unknown key version
decodes to ``None``; bad input never raises.

.. note:: embedtornado differs from Tornado 6.6.1 on malformed input that
   Tornado turns into an exception: a version-1 value checked against a
   dict of secrets decodes to ``None`` (Tornado fails an ``assert``, a 500
   any client can trigger), and the decimal fields of a version-2 value
   must be plain ASCII digits (Tornado's ``int()`` also takes ``+``,
   ``_`` and spaces, which only a forger would send; the HMAC would reject
   them anyway). Creating a version-1 value with a dict of secrets, or any
   value with a dict and no ``key_version``, raises `ValueError` (Tornado:
   `AssertionError`).
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable
from typing import Union

from embedtornado.escape import utf8
from embedtornado.log import gen_log

__all__ = [
    "DEFAULT_SIGNED_VALUE_MIN_VERSION",
    "DEFAULT_SIGNED_VALUE_VERSION",
    "MAX_SUPPORTED_SIGNED_VALUE_VERSION",
    "MIN_SUPPORTED_SIGNED_VALUE_VERSION",
    "create_signed_value",
    "decode_signed_value",
    "get_signature_key_version",
]

#: The oldest format `decode_signed_value` can read.
MIN_SUPPORTED_SIGNED_VALUE_VERSION = 1
#: The newest format this release knows.
MAX_SUPPORTED_SIGNED_VALUE_VERSION = 2
#: The format `create_signed_value` writes unless asked for another.
DEFAULT_SIGNED_VALUE_VERSION = 2
#: The oldest format `decode_signed_value` accepts unless ``min_version`` says otherwise.
DEFAULT_SIGNED_VALUE_MIN_VERSION = 1

#: A ``cookie_secret``: one secret, or a dict of secrets by key version.
_CookieSecretTypes = Union[str, bytes, dict[int, str], dict[int, bytes]]

_SECONDS_PER_DAY = 86400

#: A version-1 timestamp may not be further in the future than this (see the module docstring).
_V1_MAX_FUTURE_SECONDS = 31 * _SECONDS_PER_DAY

#: A version prefix: a decimal number without leading zeros, then ``|``.
_VERSION_PREFIX_RE = re.compile(rb"([1-9][0-9]*)\|")


def create_signed_value(
    secret: _CookieSecretTypes,
    name: str,
    value: str | bytes,
    version: int | None = None,
    clock: Callable[[], float] | None = None,
    key_version: int | None = None,
) -> bytes:
    """Sign and timestamp ``value`` under ``name``; return the signed value (ASCII bytes).

    :arg secret: the HMAC key, or a dict of keys by key version (version 2 only).
    :arg name: what the value is for (a cookie's name); decoding under
        another name fails.
    :arg value: the payload, ``str`` (encoded as UTF-8) or ``bytes``.
    :arg version: the format, 1 or 2 (default `DEFAULT_SIGNED_VALUE_VERSION`).
    :arg clock: returns the current time (default `time.time`); for tests.
    :arg key_version: which key of a dict ``secret`` to sign with, written
        into the value.
    """
    if version is None:
        version = DEFAULT_SIGNED_VALUE_VERSION
    now = (clock or time.time)()
    timestamp = b"%d" % int(now)
    encoded = base64.b64encode(utf8(value))
    if version == 2:
        if isinstance(secret, dict):
            if key_version is None:
                raise ValueError("key_version must be given when the secret is a dict")
            key = secret[key_version]
        else:
            key = secret
        signed = b"|".join(
            [
                b"2",
                _field(b"%d" % (key_version or 0)),
                _field(timestamp),
                _field(utf8(name)),
                _field(encoded),
                b"",
            ]
        )
        return signed + _signature_v2(key, signed)
    if version == 1:
        if isinstance(secret, dict):
            raise ValueError("version 1 signed values cannot use a dict of secrets")
        return b"|".join([encoded, timestamp, _signature_v1(secret, name, encoded, timestamp)])
    raise ValueError("Unsupported version %d" % version)


def decode_signed_value(
    secret: _CookieSecretTypes,
    name: str,
    value: None | str | bytes,
    max_age_days: float = 31,
    clock: Callable[[], float] | None = None,
    min_version: int | None = None,
) -> bytes | None:
    """Return the payload of a value made by `create_signed_value`, or ``None``.

    ``None`` when ``value`` is empty, malformed, forged, signed for another
    ``name``, older than ``max_age_days`` days, or in a format older than
    ``min_version`` (default `DEFAULT_SIGNED_VALUE_MIN_VERSION`; pass 2 to
    refuse version 1). A ``min_version`` above 2 raises `ValueError`.
    """
    if min_version is None:
        min_version = DEFAULT_SIGNED_VALUE_MIN_VERSION
    if min_version > MAX_SUPPORTED_SIGNED_VALUE_VERSION:
        raise ValueError("Unsupported min_version %d" % min_version)
    if not value:
        return None
    try:
        raw = utf8(value)
    except UnicodeEncodeError:
        return None  # lone surrogates cannot be a value we made
    version = _version_of(raw)
    if version < min_version:
        return None
    now = (clock or time.time)()
    if version == 2:
        return _decode_v2(secret, name, raw, max_age_days, now)
    if version == 1:
        if isinstance(secret, dict):
            return None
        return _decode_v1(secret, name, raw, max_age_days, now)
    return None


def get_signature_key_version(value: str | bytes) -> int | None:
    """Return the key version written in a version-2 signed value (``None`` for others).

    The value is not verified: use it to pick a key, or to see whether a
    value should be re-signed with a newer key after it has been decoded.
    """
    try:
        raw = utf8(value)
    except UnicodeEncodeError:
        return None
    if _version_of(raw) != 2:
        return None
    fields = _split_v2(raw)
    if fields is None:
        return None
    return int(fields[0])


# --- internals ------------------------------------------------------------------------


def _field(data: bytes) -> bytes:
    return b"%d:%s" % (len(data), data)


def _key_bytes(secret: str | bytes) -> bytes:
    return utf8(secret)


# NOTE(embedtornado): hashlib and hmac are imported where they are used, so a
# server that signs nothing never loads them (tests/test_startup.py).


def _signature_v1(secret: str | bytes, *parts: str | bytes) -> bytes:
    import hashlib
    import hmac

    mac = hmac.new(_key_bytes(secret), digestmod=hashlib.sha1)
    for part in parts:
        mac.update(utf8(part))
    return mac.hexdigest().encode("ascii")


def _signature_v2(secret: str | bytes, signed: bytes) -> bytes:
    import hashlib
    import hmac

    return hmac.new(_key_bytes(secret), signed, hashlib.sha256).hexdigest().encode("ascii")


def _version_of(raw: bytes) -> int:
    """The format of ``raw``: its leading ``N|``, or 1 for the version-less format.

    Version 1 starts with base64, which can look like a number; base64
    comes in blocks of four characters, so numbers up to 999 are taken as
    versions and longer ones as version-1 data.
    """
    m = _VERSION_PREFIX_RE.match(raw)
    if m is None:
        return 1
    digits = m.group(1)
    if len(digits) > 3:
        return 1
    return int(digits)


def _split_v2(raw: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes] | None:
    """Split a version-2 value into key version, timestamp, name, value and signature.

    Returns ``None`` if the fields are malformed. Runs in linear time.
    """
    rest = raw[2:]  # after "2|"
    fields = []
    for _ in range(4):
        length_text, colon, rest = rest.partition(b":")
        # bytes.isdigit is ASCII-only: no signs, spaces or underscores.
        if not colon or not length_text.isdigit() or len(length_text) > 10:
            return None
        length = int(length_text)
        if rest[length : length + 1] != b"|":
            return None
        fields.append(rest[:length])
        rest = rest[length + 1 :]
    key_version, timestamp, name, value = fields
    if not key_version.isdigit():
        return None
    return key_version, timestamp, name, value, rest


def _decode_v2(
    secret: _CookieSecretTypes, name: str, raw: bytes, max_age_days: float, now: float
) -> bytes | None:
    fields = _split_v2(raw)
    if fields is None:
        return None
    key_version, timestamp_text, name_field, encoded, signature = fields
    if not signature:
        return None
    if isinstance(secret, dict):
        key = secret.get(int(key_version))  # type: ignore[call-overload]
        if key is None:
            return None
    else:
        key = secret
    expected = _signature_v2(key, raw[: len(raw) - len(signature)])
    import hmac

    if not hmac.compare_digest(signature, expected):
        return None
    if name_field != utf8(name):
        return None
    if not timestamp_text.isdigit():
        return None
    if int(timestamp_text) < now - max_age_days * _SECONDS_PER_DAY:
        return None
    return _b64decode(encoded)


def _decode_v1(
    secret: str | bytes, name: str, raw: bytes, max_age_days: float, now: float
) -> bytes | None:
    parts = raw.split(b"|")
    if len(parts) != 3:
        return None
    encoded, timestamp_text, signature = parts
    expected = _signature_v1(secret, name, encoded, timestamp_text)
    import hmac

    if not hmac.compare_digest(signature, expected):
        gen_log.warning("Invalid cookie signature %r", raw)
        return None
    if not timestamp_text.isdigit():
        return None
    timestamp = int(timestamp_text)
    if timestamp < now - max_age_days * _SECONDS_PER_DAY:
        gen_log.warning("Expired cookie %r", raw)
        return None
    if timestamp > now + _V1_MAX_FUTURE_SECONDS:
        gen_log.warning("Cookie timestamp in future; possible tampering %r", raw)
        return None
    if timestamp_text.startswith(b"0"):
        gen_log.warning("Tampered cookie %r", raw)
        return None
    return _b64decode(encoded)


def _b64decode(encoded: bytes) -> bytes | None:
    try:
        return base64.b64decode(encoded)
    except (binascii.Error, ValueError):
        return None
