"""auth_passwords: scrypt / PBKDF2 hashes, constant-time verification, bounds on stored input."""

from __future__ import annotations

import asyncio

import pytest

from embedtornado import auth_passwords as ap


@pytest.fixture(autouse=True)
def _cheap(monkeypatch):
    # Keep the suite fast: the formats and checks are what is tested, not the cost.
    monkeypatch.setattr(ap, "PBKDF2_ITERATIONS", 1000)


def test_scrypt_round_trip():
    if not ap.scrypt_available():
        pytest.skip("no scrypt in this OpenSSL")
    h = ap.hash_password("correct horse")
    assert h.startswith("$scrypt$ln=14,r=8,p=1$")
    assert ap.verify_password("correct horse", h)
    assert not ap.verify_password("correct hors", h)
    assert not ap.verify_password("", h)
    assert ap.hash_password("correct horse") != h  # fresh salt
    assert not ap.needs_rehash(h)
    assert "correct" not in h


def test_pbkdf2_round_trip_and_rehash():
    h = ap.hash_password("pässword", method="pbkdf2")
    assert h.startswith("$pbkdf2-sha256$i=1000$")
    assert ap.verify_password("pässword", h)
    assert not ap.verify_password("password", h)
    if ap.scrypt_available():
        assert ap.needs_rehash(h)  # scrypt is preferred when present


def test_bad_input():
    with pytest.raises(ValueError, match="not a password hash"):
        ap.verify_password("x", "plaintext")
    with pytest.raises(ValueError, match="out of bounds"):
        ap.verify_password("x", "$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$"
                                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    with pytest.raises(ValueError, match="out of bounds"):
        ap.verify_password("x", "$pbkdf2-sha256$i=0$AAAAAAAAAAAAAAAAAAAAAA==$"
                                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    with pytest.raises(ValueError, match="length"):
        ap.verify_password("x", "$pbkdf2-sha256$i=10$AAAAAAAAAAAAAAAAAAAAAA==$AAAA")
    with pytest.raises(ValueError, match="refused"):
        ap.hash_password("x" * (ap.MAX_PASSWORD_LENGTH + 1))
    with pytest.raises(TypeError):
        ap.hash_password(b"bytes")
    with pytest.raises(ValueError, match="unknown"):
        ap.hash_password("x", method="md5")


def test_async_variants():
    async def main():
        h = await ap.hash_password_async("pw", method="pbkdf2")
        return await ap.verify_password_async("pw", h), await ap.verify_password_async("no", h)

    assert asyncio.run(main()) == (True, False)
