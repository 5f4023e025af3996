"""Password hashing for stored users: scrypt (PBKDF2-SHA256 where scrypt is missing).

::

    from embedtornado.auth_passwords import hash_password_async, verify_password_async

    stored = await hash_password_async("correct horse")     # '$scrypt$ln=14,r=8,p=1$...'
    await db.execute("INSERT INTO users (name, password) VALUES (?, ?)", name, stored)
    ...
    row = await db.get("SELECT password FROM users WHERE name = ?", name)
    if row is None or not await verify_password_async(given, row.password):
        raise web.HTTPError(403)

A stored hash is a PHC-style string that carries its own parameters and salt::

    $scrypt$ln=14,r=8,p=1$<salt, base64>$<hash, base64>
    $pbkdf2-sha256$i=600000$<salt, base64>$<hash, base64>

so the cost can be raised later without breaking old hashes (`needs_rehash`
says when to re-hash at the next successful login). Hashing is deliberately
slow (tens of milliseconds on x86, more on ARM): from a coroutine, use the
``_async`` functions, which run it in the loop's default executor (OpenSSL
releases the GIL meanwhile), so the loop keeps serving. Comparison uses
`hmac.compare_digest`. Passwords are never stored or logged in clear.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "hash_password",
    "hash_password_async",
    "needs_rehash",
    "scrypt_available",
    "verify_password",
    "verify_password_async",
]

#: scrypt cost: N = 2**SCRYPT_LN (16 MiB of memory with r=8), r, p.
SCRYPT_LN = 14
SCRYPT_R = 8
SCRYPT_P = 1
#: PBKDF2-HMAC-SHA256 iterations (OWASP's 2023 figure).
PBKDF2_ITERATIONS = 600_000
SALT_BYTES = 16
HASH_BYTES = 32
#: Longer passwords are refused (ValueError): no one types more, and it bounds the work.
MAX_PASSWORD_LENGTH = 1024

# Bounds on parameters read back from a stored hash (a damaged or hostile row
# must not make verification take minutes or gigabytes).
_MAX_LN = 20
_MAX_R = 32
_MAX_P = 16
_MAX_ITERATIONS = 10_000_000

_SCRYPT = re.compile(r"^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})"
                     r"\$([A-Za-z0-9+/]+={0,2})$")
_PBKDF2 = re.compile(r"^\$pbkdf2-sha256\$i=(\d{1,8})\$([A-Za-z0-9+/]+={0,2})"
                     r"\$([A-Za-z0-9+/]+={0,2})$")


def _probe_scrypt() -> bool:
    if not hasattr(hashlib, "scrypt"):
        return False
    try:
        hashlib.scrypt(b"x", salt=b"y" * 16, n=2, r=1, p=1, dklen=16)
    except (ValueError, OSError):
        return False
    return True


_HAVE_SCRYPT = _probe_scrypt()


def scrypt_available() -> bool:
    """True when this Python's OpenSSL provides scrypt (else PBKDF2 is used)."""
    return _HAVE_SCRYPT


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _password_bytes(password: str) -> bytes:
    if not isinstance(password, str):
        raise TypeError(f"a password is a str, not {type(password).__name__}")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"passwords longer than {MAX_PASSWORD_LENGTH} characters are refused")
    return password.encode("utf-8")


def _scrypt(pw: bytes, salt: bytes, ln: int, r: int, p: int, dklen: int) -> bytes:
    n = 1 << ln
    return hashlib.scrypt(pw, salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=128 * r * n * (p + 1) + 1024 * 1024)


def hash_password(password: str, *, method: str | None = None) -> str:
    """Hash *password* with a fresh random salt; return the string to store.

    :arg method: ``"scrypt"`` or ``"pbkdf2"``; default scrypt when available.
    """
    pw = _password_bytes(password)
    salt = os.urandom(SALT_BYTES)
    method = method or ("scrypt" if _HAVE_SCRYPT else "pbkdf2")
    if method == "scrypt":
        if not _HAVE_SCRYPT:
            raise ValueError("scrypt is not available in this Python's OpenSSL")
        digest = _scrypt(pw, salt, SCRYPT_LN, SCRYPT_R, SCRYPT_P, HASH_BYTES)
        return (f"$scrypt$ln={SCRYPT_LN},r={SCRYPT_R},p={SCRYPT_P}"
                f"${_b64(salt)}${_b64(digest)}")
    if method == "pbkdf2":
        digest = hashlib.pbkdf2_hmac("sha256", pw, salt, PBKDF2_ITERATIONS, HASH_BYTES)
        return f"$pbkdf2-sha256$i={PBKDF2_ITERATIONS}${_b64(salt)}${_b64(digest)}"
    raise ValueError(f"unknown password hashing method {method!r}")


def verify_password(password: str, stored: str) -> bool:
    """Return True if *password* matches the *stored* hash (constant-time comparison).

    :raises ValueError: if *stored* is not a hash this module wrote, or its
        parameters are out of bounds (a damaged row is an error, not a
        silent "wrong password").
    """
    pw = _password_bytes(password)
    if not isinstance(stored, str):
        raise TypeError("the stored hash is a str")
    m = _SCRYPT.match(stored)
    if m is not None:
        ln, r, p = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if not (1 <= ln <= _MAX_LN and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
            raise ValueError("stored scrypt parameters are out of bounds")
        salt, expected = base64.b64decode(m.group(4)), base64.b64decode(m.group(5))
        if not _HAVE_SCRYPT:
            raise ValueError("this hash needs scrypt, which this Python's OpenSSL lacks")
        if not 16 <= len(expected) <= 64:
            raise ValueError("stored hash has an unexpected length")
        digest = _scrypt(pw, salt, ln, r, p, len(expected))
        return hmac.compare_digest(digest, expected)
    m = _PBKDF2.match(stored)
    if m is not None:
        iterations = int(m.group(1))
        if not 1 <= iterations <= _MAX_ITERATIONS:
            raise ValueError("stored PBKDF2 iteration count is out of bounds")
        salt, expected = base64.b64decode(m.group(2)), base64.b64decode(m.group(3))
        if not 16 <= len(expected) <= 64:
            raise ValueError("stored hash has an unexpected length")
        digest = hashlib.pbkdf2_hmac("sha256", pw, salt, iterations, len(expected))
        return hmac.compare_digest(digest, expected)
    raise ValueError("not a password hash written by embedtornado.auth_passwords")


def needs_rehash(stored: str) -> bool:
    """True if *stored* uses weaker parameters (or another method) than `hash_password` now."""
    if _HAVE_SCRYPT:
        m = _SCRYPT.match(stored)
        return m is None or (int(m.group(1)), int(m.group(2)), int(m.group(3))) < (
            SCRYPT_LN, SCRYPT_R, SCRYPT_P)
    m = _PBKDF2.match(stored)
    return m is None or int(m.group(1)) < PBKDF2_ITERATIONS


async def hash_password_async(password: str, *, method: str | None = None) -> str:
    """`hash_password` in the loop's default executor (the loop keeps running)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: hash_password(password, method=method))


async def verify_password_async(password: str, stored: str) -> bool:
    """`verify_password` in the loop's default executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, verify_password, password, stored)
