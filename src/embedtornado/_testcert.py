"""A self-signed certificate and key for `embedtornado.testing.AsyncHTTPSTestCase`.

For tests only: the private key is public (it is right here), as with the
``test.crt``/``test.key`` pair Tornado ships. The certificate is for
``localhost``, ``127.0.0.1`` and ``::1``, valid for 100 years from
2026-11-26, made with::

    openssl req -x509 -newkey rsa:2048 -nodes -days 36500 \\
        -subj "/CN=localhost/O=embedtornado test" \\
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"

`files` writes them to a private temporary directory once per process
(`ssl.SSLContext.load_cert_chain` needs files) and returns the paths.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

CERT_PEM = """-----BEGIN CERTIFICATE-----
MIIDcjCCAlqgAwIBAgIUdoBFvXtXxMLhzyqwpCqg1KzKl8cwDQYJKoZIhvcNAQEL
BQAwMDESMBAGA1UEAwwJbG9jYWxob3N0MRowGAYDVQQKDBFlbWJlZHRvcm5hZG8g
dGVzdDAgFw0yNjExMjYwMTUxNDBaGA8yMTI2MTEwMjAxNTE0MFowMDESMBAGA1UE
AwwJbG9jYWxob3N0MRowGAYDVQQKDBFlbWJlZHRvcm5hZG8gdGVzdDCCASIwDQYJ
KoZIhvcNAQEBBQADggEPADCCAQoCggEBAJOsrP+kqkrCHjoP2OBS/tSdbeGRSC7b
xNCbNeRCznu8RcdahtEDci4VXQlPbefybJHFszOzgi0oS33hfcXdjNEcX066P+ke
BgekXNS0RD7zZaoPkIEz8b12asCHismD8doRRJsWT8yZZBRgD+uL9xNWxLmVo/JG
s4++8f7egvqNOvKN1OhlG2v4/8Vr64zz+mcRTrvQqEtWRuxDqDd5lQebc6txdugj
STLt8BCjnV9owduI31TywLCqFLzI5ARjN1nf1/CKRxkMaYZvHVI/8wiDkCNQnAbY
RPdp+wCgrA/Xw7/1lDebE/eqE4gK4cIDTcfLdzN8G+d8yU4oFC8iJLsCAwEAAaOB
gTB/MB0GA1UdDgQWBBSE8NZtjpyPewhpG+7d7f/Y30hSEDAfBgNVHSMEGDAWgBSE
8NZtjpyPewhpG+7d7f/Y30hSEDAPBgNVHRMBAf8EBTADAQH/MCwGA1UdEQQlMCOC
CWxvY2FsaG9zdIcEfwAAAYcQAAAAAAAAAAAAAAAAAAAAATANBgkqhkiG9w0BAQsF
AAOCAQEAKaoTzP1lsMIAiae/VYt44AuJiMJJoisFSu5V5xGkisbzXdXkVcC7LifS
o/3i6f9ZcUbd+Uw6n/4+UiGQj+uiIN+tq62XDliwNComXIdaDQ9Cj13PRK9TJDQn
GBTWdUQYc5QoO4GkZ+XiNrVS4IA7gOFZk7hNrklIurfk5SBccSMWNpckGPGGgRPM
Fsi/3DR/8cu0H72DCExkfQZIXlrKo3xEFvf7PrlwNDufOECJQojVzYXtzcQRRsB2
L7FApmXgvZkqukJ+Pl3434vXoT4dyRmE79rRYiWMARym2Br/iFUcg8wOWoCSP/In
va2AL6RqH3F6DuVzzXC9RwQBIXn45g==
-----END CERTIFICATE-----
"""

KEY_PEM = """-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCTrKz/pKpKwh46
D9jgUv7UnW3hkUgu28TQmzXkQs57vEXHWobRA3IuFV0JT23n8myRxbMzs4ItKEt9
4X3F3YzRHF9Ouj/pHgYHpFzUtEQ+82WqD5CBM/G9dmrAh4rJg/HaEUSbFk/MmWQU
YA/ri/cTVsS5laPyRrOPvvH+3oL6jTryjdToZRtr+P/Fa+uM8/pnEU670KhLVkbs
Q6g3eZUHm3OrcXboI0ky7fAQo51faMHbiN9U8sCwqhS8yOQEYzdZ39fwikcZDGmG
bx1SP/MIg5AjUJwG2ET3afsAoKwP18O/9ZQ3mxP3qhOICuHCA03Hy3czfBvnfMlO
KBQvIiS7AgMBAAECggEAASDWyG0E7Z5LgrdHDt18W7oPh5VHhmggq+MhB47TVZmv
e+i3/U7w0hyJyQwJQcR5dOGqiAKJtc1kn5kXuoYB+7M/oLkxPNA6MFgz+SWexzLL
bccIxuMMUw9ruUT29HCklMuO3nbq5fF0FMv+bc/JrMGmriHeY779UePIpP2zAe62
jrDmMuMcAaG+acZHHRFwS27MGNWGKLlyzDXL6ZaK1DNYDfkYRFlzzZiZfu/1C6Vt
p7/JgS0+sLU/LXEqnvMnakU3nXG8E5iV1Y73ajs/0ljlnEqc+IoP+nC+XgjUh7li
rQFF6kkt/oYW86fkWgeGZ+LNyEm7ysONz4P6fAYOzQKBgQDDc3s6drPpwIknvNqm
m2qhHDeIyuVnnLqp9E56emXFj4vuaMXLdh7miS2ZvK4HI6v43d90nn68EP21z6AS
5uBmXGUtbq6AbiLoQQHHH6N9ypUHztVI2j43XmsEOSKZ0kgW5V2Ot92ffrWthxLQ
DbpKnA8C0PSt1i4Myhzne61uPwKBgQDBbDTiwTwOU3xRgWlc6NjHMbHvtlFPRJuv
46+ysnpGjdCBQ49Xp8lI/XL54mXnGhB6VhUpzQximze/g9zONykotc51OZ7Ig+Nn
zhe2yCDDKPGJV2gTRhdNnhSQTLBP7u1Jhr6iV0YEdYDdp84rl27+E0mIluzYlOwq
tsQxyLyihQKBgQCMh261xX1sd3vmL3qCykIrns8rMr8o9V6dLkRy+ahNGP4CqCB3
PvHOzhkUbb4u8e4HXPf6sK7s58aTv7oXfRshXhN9TBR50TaWCY+OrWfu3Qa0e3mN
DSYox2Fowu/m63PbyoSvRfI6aG+WWgUjxIsKdBSy8KzMhK/NkFCh+6HiHwKBgCru
7NJEWCNJ7rdcxVllKfEVG8z8qBGzReeF35MHwNJ2WgjHSUMIsEouT94dncbtZyjw
gKQVqqEcmQQ+rb1sSwuJR3mHv7H8bHa3LVZaF8OaC/sTVruofDWzWBcrnpsviqYe
baQ1QQpuVptcywusAmwNNe5Gqe3tKHrWtLfkOdLNAoGBAMLtxZOqUoba8BGUS+uv
AC32QTawtbQx62xOEOCsbzMI7yIJwJ815McbGwSt4jtj3sKEgNB+cxXlf0t+ee3Z
jZ4DLo6I4Qx+sVnIW8szOfne3ZXLe+EeLw+kcIB7Q8cMlT3071NyTxcerhg0yHzT
ZM5gMBpb5+3A/ALth3ka0HaV
-----END PRIVATE KEY-----
"""

_paths: tuple[str, str] | None = None


def files() -> tuple[str, str]:
    """Return ``(certfile, keyfile)``, written on first use."""
    global _paths
    if _paths is None:
        d = tempfile.mkdtemp(prefix="embedtornado-testcert-")
        atexit.register(shutil.rmtree, d, True)
        cert, key = os.path.join(d, "test.crt"), os.path.join(d, "test.key")
        with open(cert, "w") as f:
            f.write(CERT_PEM)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(KEY_PEM)
        _paths = (cert, key)
    return _paths
