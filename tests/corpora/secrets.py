"""A deterministic corpus of fake secrets and customer data, and the leak check that judges redaction.

Used by the unit tests of the redaction engine and by the end-to-end test that pushes the same
texts through the real gateway (S3 objects, CloudWatch log events). Everything is generated from a
seeded ``random.Random``: no network, no files, same output for the same seed.

* :func:`generate_secrets` - >= 300 :class:`FakeSecret` values across >= 25 named types with
  realistic shapes (prefixes, lengths, alphabets; JWTs are real base64url JSON; PEM, OpenSSH and
  PuTTY keys have fake bodies of the right shape).
* :func:`embed` - the same secret written in many syntaxes (JSON, YAML, INI, env, log lines, CLI
  flags, URLs, stack traces) and encodings (JSON-escaped, \\u-escaped, URL-encoded, base64-wrapped,
  line-split).
* :func:`raw_substrings` / :func:`leaks` - the acceptance rule: **no 8-character substring of the
  secret's distinctive value survives**, looked for in the text *and* in its decoded forms (JSON
  unescaped, URL-decoded, lines joined, base64 blobs decoded), so an encoded but unredacted secret
  counts as a leak. :func:`leaks` on an unredacted embedding is never empty (self-tested).
"""

from __future__ import annotations

import base64
import html
import json
import quopri
import random
import re
import string
from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = [
    "CUSTOMER_ID_PATTERNS",
    "FakeSecret",
    "decoded_forms",
    "embed",
    "generate_secrets",
    "leaks",
    "raw_substrings",
]

# The customer-id patterns the policy would carry; tests configure the Redactor with these.
CUSTOMER_ID_PATTERNS: tuple[str, ...] = (r"\bcus_[A-Za-z0-9]{14}\b", r"\bCUST-\d{6,10}\b")

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
TOKEN_CHARS = frozenset(ALNUM + "+/=_.-")


@dataclass(frozen=True)
class FakeSecret:
    """One fake secret.

    ``kind`` is the detector type the redactor should report for its canonical embeddings;
    ``value`` is the secret as it appears in text; ``key`` an assignment key that naturally holds it;
    ``fragments`` its distinctive parts (what must not survive, e.g. the password, not ``password=``;
    the body lines of a PEM, not its BEGIN line).
    """

    kind: str
    value: str
    key: str
    fragments: tuple[str, ...]
    multiline: bool = False
    pii: bool = False
    scheme: str = ""  # for Authorization values: "Bearer" / "Basic"


# --------------------------------------------------------------------------------------------------
# generators
# --------------------------------------------------------------------------------------------------


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _mixed(rng: random.Random, alphabet: str, n: int) -> str:
    """Random string guaranteed to hold an upper, a lower and a digit (realistic keys always do)."""
    while True:
        s = _rand(rng, alphabet, n)
        if any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s):
            return s


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _wrap(body: str, width: int) -> list[str]:
    return [body[i : i + width] for i in range(0, len(body), width)]


def _aws_access_key_id(rng: random.Random, i: int) -> FakeSecret:
    value = rng.choice(["AKIA", "ASIA"]) + _rand(rng, string.ascii_uppercase + "234567", 16)
    return FakeSecret("aws_access_key_id", value, "aws_access_key_id", (value,))


def _aws_secret_key(rng: random.Random, i: int) -> FakeSecret:
    value = _mixed(rng, B64, 40)
    key = rng.choice(["aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "SecretAccessKey"])
    return FakeSecret("aws_secret_key", value, key, (value,))


def _aws_session_token(rng: random.Random, i: int) -> FakeSecret:
    value = "IQoJb3JpZ2luX2VjE" + _rand(rng, B64, rng.randrange(300, 600))
    value += "=" * (-len(value) % 4)
    return FakeSecret("aws_session_token", value, "aws_session_token", (value[17:],))


def _jwt(rng: random.Random, i: int) -> FakeSecret:
    header = {"alg": rng.choice(["RS256", "ES256", "HS256"]), "typ": "JWT", "kid": _rand(rng, HEX, 16)}
    payload = {
        "sub": f"user-{_rand(rng, HEX, 12)}",
        "iss": "https://idp.example.com/oauth2/default",
        "aud": "mcp-gateway",
        "iat": 1_705_300_000 + i,
        "exp": 1_705_300_900 + i,
        "scope": rng.choice(["logs:read", "s3:read logs:read", "openid profile"]),
        "jti": _rand(rng, HEX, 24),
    }
    sig = _b64url(rng.randbytes(rng.choice([32, 64, 256])))
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode()) + "." + sig
    value = _b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + body
    return FakeSecret("jwt", value, rng.choice(["id_token", "access_token", "jwt"]), (body,))


def _pem(rng: random.Random, i: int) -> FakeSecret:
    label, prefix, size = rng.choice(
        [
            ("RSA PRIVATE KEY", "MIIEpAIBAAKCAQEA", 1580),
            ("EC PRIVATE KEY", "MHcCAQEEI", 160),
            ("PRIVATE KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", 1600),
            ("ENCRYPTED PRIVATE KEY", "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkq", 1700),
            ("DSA PRIVATE KEY", "MIIBuwIBAAKBgQ", 640),
        ]
    )
    body = prefix + _rand(rng, B64, size)
    body += "=" * (-len(body) % 4)
    lines = _wrap(body, 64)
    headers = ""
    if label == "RSA PRIVATE KEY" and i % 3 == 0:
        headers = f"Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{_rand(rng, HEX, 32).upper()}\n\n"
    value = f"-----BEGIN {label}-----\n{headers}" + "\n".join(lines) + f"\n-----END {label}-----"
    fragments = tuple([lines[0][len(prefix) :], *lines[1:]])
    return FakeSecret("private_key", value, "private_key", tuple(f for f in fragments if f), multiline=True)


def _openssh(rng: random.Random, i: int) -> FakeSecret:
    body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW" + _rand(
        rng, B64, rng.choice([300, 1700])
    )
    body += "=" * (-len(body) % 4)
    lines = _wrap(body, 70)
    value = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----"
    return FakeSecret(
        "openssh_private_key", value, "ssh_private_key", tuple(lines[1:]) or (lines[0][70:],), multiline=True
    )


def _putty(rng: random.Random, i: int) -> FakeSecret:
    version = rng.choice([2, 3])
    public = _wrap("AAAAB3NzaC1yc2EAAAADAQABAAABAQ" + _rand(rng, B64, 330), 64)
    private = _wrap("AAABAQ" + _rand(rng, B64, 890), 64)
    mac = _rand(rng, HEX, 64 if version == 3 else 40)
    lines = [
        f"PuTTY-User-Key-File-{version}: ssh-rsa",
        "Encryption: none",
        f"Comment: rsa-key-2024011{i % 10}",
        f"Public-Lines: {len(public)}",
        *public,
        f"Private-Lines: {len(private)}",
        *private,
        f"Private-MAC: {mac}",
    ]
    return FakeSecret("putty_private_key", "\n".join(lines), "ppk", (*private[1:], private[0][6:], mac), multiline=True)


def _password_value(rng: random.Random) -> str:
    words = [
        "correct",
        "horse",
        "battery",
        "staple",
        "orange",
        "tiger",
        "winter",
        "falcon",
        "maple",
        "quartz",
    ]
    sym = "!*_.~-+^"
    while True:
        parts = [
            rng.choice(words).capitalize(),
            str(rng.randrange(10, 9999)),
            rng.choice(sym),
            _rand(rng, ALNUM, 4),
        ]
        rng.shuffle(parts)
        value = "".join(parts)
        if len(value) >= 12:
            return value


def _url_password(rng: random.Random, i: int) -> FakeSecret:
    pw = _password_value(rng)
    return FakeSecret("url_password", pw, "database_url", (pw,))


def _authorization(rng: random.Random, i: int) -> FakeSecret:
    if i % 2:
        creds = f"svc-{_rand(rng, string.ascii_lowercase, 6)}:{_password_value(rng)}"
        value = base64.b64encode(creds.encode()).decode()
        return FakeSecret("authorization", value, "Authorization", (value,), scheme="Basic")
    value = _mixed(rng, ALNUM + "-._", rng.randrange(32, 64))
    return FakeSecret("bearer_token", value, "Authorization", (value,), scheme="Bearer")


def _slack_token(rng: random.Random, i: int) -> FakeSecret:
    d = string.digits
    form = i % 3
    if form == 0:
        value = f"xoxb-{_rand(rng, d, 12)}-{_rand(rng, d, 13)}-{_rand(rng, ALNUM, 24)}"
    elif form == 1:
        value = f"xoxp-{_rand(rng, d, 12)}-{_rand(rng, d, 12)}-{_rand(rng, d, 13)}-{_rand(rng, HEX, 32)}"
    else:
        value = f"xapp-1-A{_rand(rng, string.ascii_uppercase + d, 10)}-{_rand(rng, d, 13)}-{_rand(rng, HEX, 64)}"
    return FakeSecret("slack_token", value, "slack_bot_token", (value[5:],))


def _slack_webhook(rng: random.Random, i: int) -> FakeSecret:
    up = string.ascii_uppercase + string.digits
    secret_part = _rand(rng, ALNUM, 24)
    value = f"https://hooks.slack.com/services/T{_rand(rng, up, 8)}/B{_rand(rng, up, 10)}/{secret_part}"
    return FakeSecret("slack_webhook", value, "slack_webhook_url", (secret_part,))


def _github(rng: random.Random, i: int) -> FakeSecret:
    if i % 4 == 3:
        value = f"github_pat_{_rand(rng, ALNUM, 22)}_{_rand(rng, ALNUM, 59)}"
    else:
        value = rng.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + _rand(rng, ALNUM, 36)
    return FakeSecret("github_token", value, "github_token", (value[4:],))


def _gitlab(rng: random.Random, i: int) -> FakeSecret:
    value = "glpat-" + _mixed(rng, ALNUM + "_-", 20)
    return FakeSecret("gitlab_token", value, "gitlab_token", (value[6:],))


def _stripe(rng: random.Random, i: int) -> FakeSecret:
    value = rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + _rand(rng, ALNUM, rng.choice([24, 99]))
    return FakeSecret("stripe_key", value, "stripe_secret_key", (value[8:],))


def _google(rng: random.Random, i: int) -> FakeSecret:
    value = "AIza" + _rand(rng, ALNUM + "_-", 35)
    return FakeSecret("google_api_key", value, "google_api_key", (value[4:],))


def _npm(rng: random.Random, i: int) -> FakeSecret:
    value = "npm_" + _rand(rng, ALNUM, 36)
    return FakeSecret("npm_token", value, "npm_token", (value[4:],))


def _sendgrid(rng: random.Random, i: int) -> FakeSecret:
    value = f"SG.{_rand(rng, B64URL, 22)}.{_rand(rng, B64URL, 43)}"
    return FakeSecret("sendgrid_api_key", value, "sendgrid_api_key", (value[3:],))


def _openai(rng: random.Random, i: int) -> FakeSecret:
    value = "sk-proj-" + _mixed(rng, ALNUM + "_-", rng.choice([48, 120]))
    return FakeSecret("openai_api_key", value, "openai_api_key", (value[8:],))


def _anthropic(rng: random.Random, i: int) -> FakeSecret:
    value = "sk-ant-api03-" + _mixed(rng, ALNUM + "_-", 93) + "AA"
    return FakeSecret("anthropic_api_key", value, "anthropic_api_key", (value[13:],))


def _password(rng: random.Random, i: int) -> FakeSecret:
    key = rng.choice(["password", "db_password", "DB_PASSWORD", "passwd", "mysql_root_password", "adminPassword"])
    value = _password_value(rng)
    return FakeSecret("password", value, key, (value,))


def _client_secret(rng: random.Random, i: int) -> FakeSecret:
    key = rng.choice(["client_secret", "slack_signing_secret", "webhook_secret", "jwt_secret"])
    value = _rand(rng, HEX, 32) if key == "slack_signing_secret" else _mixed(rng, ALNUM + "_-", rng.randrange(32, 48))
    return FakeSecret("secret", value, key, (value,))


def _api_key(rng: random.Random, i: int) -> FakeSecret:
    key = rng.choice(["api_key", "x-api-key", "apiKey", "datadog_api_key"])
    value = _rand(rng, HEX, 32) if i % 2 else _mixed(rng, ALNUM, 40)
    return FakeSecret("api_key", value, key, (value,))


def _opaque_token(rng: random.Random, i: int) -> FakeSecret:
    key = rng.choice(["access_token", "refresh_token", "auth_token", "service_token"])
    value = _mixed(rng, ALNUM, rng.randrange(32, 64))
    return FakeSecret("token", value, key, (value,))


def _email(rng: random.Random, i: int) -> FakeSecret:
    first = rng.choice(["alice", "bob", "carol", "dmitri", "eve", "fatima", "gustavo", "hiro"])
    last = rng.choice(["martin", "nguyen", "okafor", "schmidt", "tanaka", "garcia"])
    domain = rng.choice(["example.com", "corp.example.org", "mail.test.io"])
    value = f"{first}.{last}{rng.randrange(10, 999)}@{domain}"
    # the distinctive part is the mailbox, not the shared domain suffix (".example.com" is everywhere)
    return FakeSecret("email", value, "customer_email", (value[: value.index("@") + 5],), pii=True)


def _phone(rng: random.Random, i: int) -> FakeSecret:
    d = string.digits
    form = i % 4
    if form == 0:
        value = f"+1 415-555-{_rand(rng, d, 4)}"
    elif form == 1:
        value = f"+44 20 7946 {_rand(rng, d, 4)}"
    elif form == 2:
        value = f"(212) 555-{_rand(rng, d, 4)}"
    else:
        value = f"+49 30 {_rand(rng, d, 8)}"
    digits = re.sub(r"\D", "", value)
    return FakeSecret("phone", value, "phone", (value, digits[-8:]), pii=True)


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + _rand(rng, string.digits, length - len(prefix) - 1)
    total = 0
    for idx, ch in enumerate(reversed(body)):
        n = int(ch)
        if idx % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return body + str((10 - total % 10) % 10)


def _credit_card(rng: random.Random, i: int) -> FakeSecret:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("34", 15), ("37", 15), ("6011", 16)])
    digits = _luhn_complete(prefix, length, rng)
    sep = rng.choice(["", " ", "-"])
    groups = [digits[:4], digits[4:10], digits[10:]] if length == 15 else _wrap(digits, 4)
    value = sep.join(groups)
    return FakeSecret("credit_card", value, "card_number", (digits[4:12], value), pii=True)


def _customer_id(rng: random.Random, i: int) -> FakeSecret:
    value = "cus_" + _rand(rng, ALNUM, 14) if i % 2 else f"CUST-{_rand(rng, string.digits, 8)}"
    return FakeSecret("customer_id", value, "customer_id", (value,), pii=True)


def _ipv4(rng: random.Random, i: int) -> FakeSecret:
    first = rng.choice([23, 51, 81, 145, 203])
    value = f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(10, 250)}"
    return FakeSecret("ipv4", value, "client_ip", (value,), pii=True)


def _twilio(rng: random.Random, i: int) -> FakeSecret:
    # Twilio API key SIDs are "SK" + 32 hex (the secret that goes with them is a 32-character token)
    if i % 2:
        value = "SK" + _rand(rng, HEX, 32)
        return FakeSecret("twilio_api_key", value, "twilio_api_key", (value[2:],))
    value = _rand(rng, HEX, 32)
    return FakeSecret("token", value, rng.choice(["twilio_auth_token", "TWILIO_AUTH_TOKEN"]), (value,))


def _azure(rng: random.Random, i: int) -> FakeSecret:
    if i % 2:  # a storage account key: 64 random bytes, base64 (88 characters, '==' padded)
        value = base64.b64encode(rng.randbytes(64)).decode()
        return FakeSecret("api_key", value, rng.choice(["AccountKey", "azure_storage_account_key"]), (value[:86],))
    # an Entra ID (Azure AD) client secret: 3 characters, "8Q~", 34 characters of [A-Za-z0-9~._-]
    value = _rand(rng, ALNUM, 3) + "8Q~" + _mixed(rng, ALNUM + "~._-", 34)
    return FakeSecret("secret", value, rng.choice(["AZURE_CLIENT_SECRET", "client_secret"]), (value,))


def _pypi(rng: random.Random, i: int) -> FakeSecret:
    # PyPI API tokens are macaroons: "pypi-" + base64url of a binary starting "\x02\x01\x08pypi.org"
    value = "pypi-AgEIcHlwaS5vcmc" + _rand(rng, B64URL, rng.choice([140, 160, 180]))
    return FakeSecret("pypi_token", value, rng.choice(["PYPI_TOKEN", "pypi_api_token", "password"]), (value[19:],))


def _db_url(rng: random.Random, i: int) -> FakeSecret:
    # passwords with the characters that break naive URL parsers: @ # / ? : % !
    base = _password_value(rng)
    special = rng.choice(["@", "#", "/", "?", "!", "%", ":"])
    cut = rng.randrange(2, len(base) - 2)
    pw = base[:cut] + special + base[cut:]
    return FakeSecret("url_password", pw, "database_url", (pw[:cut], pw[cut + 1 :], pw))


def _ssn(rng: random.Random, i: int) -> FakeSecret:
    while True:  # SSA rules: area 001-665, 667-899; group 01-99; serial 0001-9999
        area = rng.randrange(1, 900)
        if area != 666:
            break
    value = f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"
    return FakeSecret("us_ssn", value, rng.choice(["ssn", "SSN", "social_security_number"]), (value,), pii=True)


_NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
_NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"


def _nino(rng: random.Random, i: int) -> FakeSecret:
    while True:
        prefix = rng.choice(_NINO_FIRST) + rng.choice(_NINO_SECOND)
        if prefix not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
            break
    digits = _rand(rng, string.digits, 6)
    suffix = rng.choice("ABCD")
    value = f"{prefix}{digits}{suffix}" if i % 2 else f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return FakeSecret("uk_nino", value, rng.choice(["ni_number", "nino", "national_insurance"]), (value,), pii=True)


# ISO 13616 country formats: (country, BBAN length, BBAN alphabet per position: 'n' digits, 'a' letters, 'c' both)
_IBAN_FORMATS = (
    ("DE", "n" * 18),
    ("GB", "aaaa" + "n" * 14),
    ("FR", "n" * 10 + "c" * 11 + "nn"),
    ("NL", "aaaa" + "n" * 10),
    ("ES", "n" * 20),
    ("IT", "a" + "n" * 10 + "c" * 12),
    ("BE", "n" * 12),
    ("CH", "n" * 5 + "c" * 12),
)


def _iban_check(country: str, bban: str) -> str:
    number = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{98 - int(number) % 97:02d}"


def _iban(rng: random.Random, i: int) -> FakeSecret:
    country, layout = _IBAN_FORMATS[i % len(_IBAN_FORMATS)]
    alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}
    bban = "".join(rng.choice(alphabet[c]) for c in layout)
    compact = country + _iban_check(country, bban) + bban
    value = " ".join(_wrap(compact, 4)) if i % 2 else compact
    return FakeSecret("iban", value, rng.choice(["iban", "IBAN", "payout_iban"]), (compact[4:12], value), pii=True)


def _routing(rng: random.Random, i: int) -> FakeSecret:
    while True:  # ABA: a Federal Reserve routing symbol prefix, then the 3-7-1 checksum digit
        prefix = rng.choice(["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "21", "26", "32"])
        body = prefix + _rand(rng, string.digits, 6)
        d = [int(c) for c in body]
        check = (10 - (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5])) % 10) % 10
        value = body + str(check)
        if value != "123456789":
            break
    return FakeSecret("bank_routing_number", value, rng.choice(["routing_number", "aba_routing"]), (value,), pii=True)


def _account_number(rng: random.Random, i: int) -> FakeSecret:
    value = str(rng.randrange(1, 10)) + _rand(rng, string.digits, rng.choice([7, 9, 11]))
    key = rng.choice(["account_number", "bank_account", "accountNumber"])
    return FakeSecret("bank_account_number", value, key, (value,), pii=True)


_GENERATORS = (
    _aws_access_key_id,
    _aws_secret_key,
    _aws_session_token,
    _jwt,
    _pem,
    _openssh,
    _putty,
    _url_password,
    _authorization,
    _slack_token,
    _slack_webhook,
    _github,
    _gitlab,
    _stripe,
    _google,
    _npm,
    _sendgrid,
    _openai,
    _anthropic,
    _password,
    _client_secret,
    _api_key,
    _opaque_token,
    _email,
    _phone,
    _credit_card,
    _customer_id,
    _ipv4,
    _twilio,
    _azure,
    _pypi,
    _db_url,
    _ssn,
    _nino,
    _iban,
    _routing,
    _account_number,
)

#: PII kinds that are only personal data next to a label (a bare 9-digit number is not a routing number)
LABELLED_PII = frozenset({"bank_routing_number", "bank_account_number"})


def generate_secrets(seed: int = 1337, per_type: int = 12, *, include_pii: bool = True) -> list[FakeSecret]:
    """``per_type`` fake secrets of each generator (37 with PII, 27 without), deterministic per seed."""
    rng = random.Random(seed)
    out: list[FakeSecret] = []
    for gen in _GENERATORS:
        for i in range(per_type):
            secret = gen(rng, i)
            if secret.pii and not include_pii:
                continue
            out.append(secret)
    return out


# --------------------------------------------------------------------------------------------------
# embeddings
# --------------------------------------------------------------------------------------------------


def _env_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", re.sub(r"([a-z])([A-Z])", r"\1_\2", key)).upper()


def _ident(key: str) -> str:
    return _env_name(key).lower()


def _dashes(key: str) -> str:
    return _ident(key).replace("_", "-")


def _unicode_escape(value: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in value)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _token_class(value: str) -> bool:
    return all(c in TOKEN_CHARS for c in value)


def _line_split(secret: FakeSecret) -> list[tuple[str, str]]:
    value = secret.value
    if len(value) < 40 or not _token_class(value):
        return []
    parts = _wrap(value, 32)
    scheme = f"{secret.scheme} " if secret.scheme else ""
    folded = f"{secret.key}: {scheme}" + "\n  ".join(parts)
    continued = f"export {_env_name(secret.key)}={scheme}" + "\\\n".join(parts)
    return [("line_split", folded), ("line_continuation", continued)]


def _stack_trace(name: str, value: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/var/task/app.py", line 42, in handler\n'
        f'    client = connect(host="db.internal", {name}="{value}")\n'
        '  File "/var/task/db.py", line 17, in connect\n'
        '    raise ConnectionError("authentication failed")\n'
        "ConnectionError: authentication failed"
    )


def _java_trace(text: str) -> str:
    return (
        f'Exception in thread "main" java.lang.IllegalStateException: bad config {text}\n'
        "\tat com.example.orders.Config.load(Config.java:88)\n"
        "\tat com.example.orders.Main.main(Main.java:21)"
    )


def _multiline_embeddings(secret: FakeSecret) -> list[tuple[str, str]]:
    v = secret.value
    key = secret.key
    indented = "\n".join("  " + line for line in v.splitlines())
    escaped = json.dumps(v)
    return [
        ("raw_file", f"# deployed by ci\n{v}\n"),
        ("json", json.dumps({"name": "deploy-key", key: v})),
        ("json_pretty", json.dumps({"service": "orders", "credentials": {"type": "ssh", key: v}}, indent=2)),
        ("yaml_block", f"service: orders\n{key}: |\n{indented}\nregion: eu-west-1\n"),
        ("env_escaped", f"{_env_name(key)}={escaped}\nLOG_LEVEL=info\n"),
        (
            "log_line",
            f"2024-01-15T10:00:00.123Z DEBUG [main] loaded key material {escaped} from parameter store",
        ),
        ("stack_trace", _stack_trace(_ident(key), escaped[1:-1])),
        ("json_escaped", json.dumps({"body": json.dumps({key: v})})),
        ("url_encoded", f"POST /import HTTP/1.1\n\nfile={quote(v, safe='')}&overwrite=true"),
        ("base64_wrapped", f"apiVersion: v1\nkind: Secret\ndata:\n  {_ident(key)}: {_b64(v)}\n"),
    ]


def _qp(text: str) -> str:
    """Quoted-printable (RFC 2045): '=' and non-ASCII as =XX, soft line breaks every 76 columns."""
    encoded = "".join(f"={ord(c):02X}" if c == "=" or ord(c) > 126 else c for c in text)
    lines = []
    while len(encoded) > 75:
        cut = 75
        while encoded[cut - 2 : cut].find("=") >= 0 and cut > 70:
            cut -= 1
        lines.append(encoded[:cut] + "=")
        encoded = encoded[cut:]
    return "\n".join([*lines, encoded])


def _recall_embeddings(secret: FakeSecret, v: str) -> list[tuple[str, str]]:
    """Encoded, split and wrapped forms beyond the classic ones (issue 19)."""
    key = secret.key
    env = _env_name(key)
    ident = _ident(key)
    out: list[tuple[str, str]] = [
        ("hex", f"{env}_HEX={v.encode().hex()}\nREGION=eu-west-1\n"),
        ("x_escaped", f"{ident} = b'" + "".join(f"\\x{b:02x}" for b in v.encode()) + "'"),
        ("html_entities", f"<config>\n  <{ident}>" + "".join(f"&#{ord(c)};" for c in v) + f"</{ident}>\n</config>"),
        (
            "quoted_printable",
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
            + _qp(f"Hello team, the new settings are {ident}={v} and region=eu-west-1 as discussed yesterday.")
            + "\n",
        ),
        (
            "http_header",
            f"GET /v1/orders HTTP/1.1\nHost: api.example.com\nX-{_dashes(key).title()}: {v}\nAccept: */*\n",
        ),
    ]
    if " " not in v and '"' not in v and "\\" not in v and len(v) >= 12:
        k = len(v) // 2
        out += [
            ("concatenated", f'{ident} = "{v[:k]}" + "{v[k:]}"'),
            ("concatenated_lines", f'{ident} = (\n    "{v[:k]}"\n    "{v[k:]}"\n)'),
            ("spaced_out", f"{ident}: {' '.join(v)}"),
        ]
    if _token_class(v) and len(v) >= 16:
        k = len(v) // 2
        out.append(("split_lines", f"{key}: {v[:k]}\n{v[k:]}\nregion: eu-west-1"))
    return out


def _labelled_pii_embeddings(secret: FakeSecret) -> list[tuple[str, str]]:
    v = secret.value
    key = secret.key
    return [
        ("json", json.dumps({"customer": "cus-42", key: v, "currency": "USD"})),
        ("yaml", f"payout:\n  {key}: {v}\n  currency: USD\n"),
        ("log_line", f"2024-01-15T10:00:00Z INFO payout created {key}={v} amount=120.00"),
        ("env", f"{_env_name(key)}={v}\n"),
        ("json_unicode_escaped", '{"' + key + '": "' + _unicode_escape(v) + '"}'),
    ]


def _value_embeddings(secret: FakeSecret, value_text: str) -> list[tuple[str, str]]:
    """Embeddings of a single-line secret held under ``secret.key`` (value_text is what is assigned)."""
    key = secret.key
    v = value_text
    env = _env_name(key)
    pairs: list[tuple[str, str]] = [
        (
            "json",
            json.dumps({"level": "INFO", "timestamp": "2024-01-15T10:00:00Z", "message": "config", key: v}),
        ),
        ("json_pretty", json.dumps({"service": "orders", "settings": {key: v, "retries": 3}}, indent=2)),
        ("yaml", f"service: orders\n{key}: {json.dumps(v) if v[:1] in '!*&' else v}\nregion: eu-west-1\n"),
        ("ini", f"[default]\nregion = eu-west-1\n{key} = {v}\noutput = json\n"),
        ("env", f"{env}={v}\nexport LOG_LEVEL=info\n"),
        ("log_line", f"2024-01-15T10:00:00.123Z INFO [worker-3] connecting with {_ident(key)}={v} attempt=2"),
        ("cli_flag", f"$ ./deploy.sh --region eu-west-1 --{_dashes(key)} {v} --verbose"),
        ("url", f"https://api.example.com/v1/export?format=csv&{_ident(key)}={quote(v, safe='')}&page=2"),
        ("stack_trace", _stack_trace(_ident(key), v)),
        ("java_trace", _java_trace(f"{_ident(key)}={v}")),
        ("json_escaped", json.dumps({"event": json.dumps({key: v})})),
        ("json_unicode_escaped", '{"' + key + '": "' + _unicode_escape(v) + '"}'),
        ("url_encoded", "POST /callback\n\nbody=" + quote(f"{_ident(key)}={v}", safe="")),
        ("base64_wrapped", json.dumps({"kind": "env-file", "data": _b64(f"{env}={v}\nREGION=eu-west-1\n")})),
    ]
    return pairs


def embed(secret: FakeSecret) -> list[tuple[str, str]]:
    """The secret written in many syntaxes and encodings: ``[(syntax_name, text), ...]``."""
    if secret.multiline:
        return _multiline_embeddings(secret)
    if secret.kind == "url_password":
        scheme = ("postgres", "mysql", "mongodb+srv", "redis", "amqps", "https")[sum(map(ord, secret.value)) % 6]
        user = "" if scheme == "redis" else "svc_orders"
        url = f"{scheme}://{user}:{secret.value}@db-prod.internal:5432/orders"
        return [
            ("json", json.dumps({"level": "INFO", "database_url": url})),
            ("yaml", f"database:\n  url: {url}\n"),
            ("env", f"DATABASE_URL={url}\n"),
            ("log_line", f"2024-01-15T10:00:00Z INFO connecting to {url} (pool=10)"),
            ("stack_trace", _java_trace(f"jdbc url {url}")),
            ("json_escaped", json.dumps({"event": json.dumps({"dsn": url})})),
            ("url_encoded", "redirect=" + quote(url, safe="")),
            ("base64_wrapped", json.dumps({"dsn_b64": _b64(url)})),
            ("cli_flag", f"$ psql --dbname={url} --set ON_ERROR_STOP=1"),
            ("hex", f"DSN_HEX={url.encode().hex()}\n"),
        ]
    if secret.kind in ("authorization", "bearer_token"):
        header = f"{secret.scheme} {secret.value}"
        out = [
            ("http_header", f"GET /v1/orders HTTP/1.1\nHost: api.example.com\nAuthorization: {header}\n"),
            ("json", json.dumps({"method": "GET", "headers": {"Authorization": header, "Accept": "*/*"}})),
            ("yaml", f"headers:\n  authorization: {header}\n"),
            (
                "log_line",
                f'2024-01-15T10:00:00Z DEBUG curl -H "Authorization: {header}" https://api.example.com/',
            ),
            ("stack_trace", _java_trace(f"request headers={{Authorization={header}}}")),
            ("json_escaped", json.dumps({"event": json.dumps({"headers": {"Authorization": header}})})),
            ("url_encoded", "trace=" + quote(f"Authorization: {header}", safe="")),
            ("base64_wrapped", json.dumps({"captured": _b64(f"Authorization: {header}\r\n")})),
        ]
        if secret.scheme == "Bearer":
            out.append(("env", f'AUTH_HEADER="Bearer {secret.value}"\n'))
        return out + _line_split(secret)
    if secret.kind == "slack_webhook":
        v = secret.value
        return [
            ("json", json.dumps({"channel": "#alerts", "webhook": v})),
            ("yaml", f"notifications:\n  slack: {v}\n"),
            ("env", f"SLACK_WEBHOOK_URL={v}\n"),
            ("log_line", f"2024-01-15T10:00:00Z INFO posting alert to {v} status=200"),
            ("json_escaped", json.dumps({"event": json.dumps({"url": v})})),
            ("url_encoded", "next=" + quote(v, safe="")),
            ("base64_wrapped", json.dumps({"cfg": _b64(f"webhook={v}")})),
        ]
    if secret.kind in LABELLED_PII:
        return _labelled_pii_embeddings(secret)
    if secret.pii:
        v = secret.value
        return [
            ("json", json.dumps({"order_id": "ord-20240115-001", secret.key: v, "status": "shipped"})),
            ("yaml", f"order: ord-20240115-001\n{secret.key}: {v}\n"),
            ("log_line", f"2024-01-15T10:00:00Z INFO order ord-20240115-001 placed by {v} total=42.50"),
            ("csv", f"ord-20240115-001,{v},shipped,42.50"),
            ("json_unicode_escaped", '{"' + secret.key + '": "' + _unicode_escape(v) + '"}'),
            ("url", f"https://shop.acme.test/orders?{secret.key}={quote(v, safe='')}&page=1"),
        ]
    return _value_embeddings(secret, secret.value) + _line_split(secret) + _recall_embeddings(secret, secret.value)


# --------------------------------------------------------------------------------------------------
# leak check
# --------------------------------------------------------------------------------------------------


def raw_substrings(secret: FakeSecret, n: int = 8) -> set[str]:
    """Every ``n``-character window of the secret's distinctive fragments (shorter ones whole)."""
    out: set[str] = set()
    for fragment in secret.fragments:
        if len(fragment) < n:
            if len(fragment) >= 6:
                out.add(fragment)
            continue
        out.update(fragment[i : i + n] for i in range(len(fragment) - n + 1))
    return out


_JSON_ESC = re.compile(r"\\u([0-9a-fA-F]{4})|\\([\"\\/bfnrt])")
_ESC_MAP = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_B64_BLOB = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_BREAK = re.compile(r"[ \t]*\\?\r?\n[ \t]*")


def _json_unescape(text: str) -> str:
    return _JSON_ESC.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else _ESC_MAP[m.group(2)], text)


def _b64_decoded(text: str) -> str:
    parts = []
    for m in _B64_BLOB.finditer(text):
        blob = m.group()
        try:
            parts.append(base64.b64decode(blob + "=" * (-len(blob) % 4)).decode("utf-8", "ignore"))
        except ValueError:
            continue
    return "\n".join(parts)


_X_ESC = re.compile(r"\\x([0-9a-fA-F]{2})|\\U([0-9a-fA-F]{8})")
_HEX_BLOB = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")
_SPACED = re.compile(r"(?<!\S\S)(?<=\S) (?=\S(?:\s|$))")
_CONCAT = re.compile(r"(?<=[\w+/=.~!@#$%^&*-])[\"']\s*(?:\+|\|\||\.|&)?\s*[\"'](?=[\w+/=.~!@#$%^&*-])")


def _x_unescape(text: str) -> str:
    return _X_ESC.sub(lambda m: chr(min(int(m.group(1) or m.group(2), 16), 0x10FFFF)), text)


def _hex_decoded(text: str) -> str:
    return _HEX_BLOB.sub(lambda m: bytes.fromhex(m.group()).decode("latin-1"), text)


def _qp_decoded(text: str) -> str:
    return quopri.decodestring(text.encode("utf-8", "surrogatepass")).decode("utf-8", "replace")


def _unspaced(text: str) -> str:
    return _SPACED.sub("", text)


def _unconcatenated(text: str) -> str:
    return _CONCAT.sub("", text)


def _joined(text: str) -> str:
    return _BREAK.sub("", text)


# What an attacker (or a curious reader) applies to text to recover a secret. Independent of the redactor.
_DECODERS = (
    _json_unescape,
    unquote,
    html.unescape,
    _x_unescape,
    _qp_decoded,
    _hex_decoded,
    _unspaced,
    _unconcatenated,
    _joined,
)


def decoded_forms(text: str, *, thorough: bool = True) -> set[str]:
    """The text plus what an attacker gets by decoding it: every decoder alone (JSON/\\x/HTML unescaping, URL,
    quoted-printable and hex decoding, spaced-out characters and concatenations closed up, lines joined, base64
    blobs decoded), every decoder after a JSON unescape or a base64 decode, and two rounds of all of them chained.
    ``thorough=False`` (for megabytes of sink text) keeps the text, JSON unescaping, URL decoding, line joins,
    base64 and the two chained rounds, which compose every decoder."""
    forms = {text}
    bases = [text, _json_unescape(text)]
    decoded = _b64_decoded(text)
    if decoded:
        bases.append(decoded)
    for base in bases if thorough else bases[:1]:
        forms.add(base)
        forms.update(decode(base) for decode in _DECODERS)
    chained = text
    for _ in range(2):
        for decode in _DECODERS:
            chained = decode(chained)
            if not thorough:
                forms.add(chained)
        forms.add(chained)
        decoded = _b64_decoded(chained)
        if decoded:
            forms.add(decoded)
    return forms


def leaks(secret: FakeSecret, text: str, n: int = 8) -> list[str]:
    """The distinctive ``n``-windows of ``secret`` that survive in ``text`` or in any decoded form of it."""
    windows = raw_substrings(secret, n)
    forms = decoded_forms(text)
    return sorted(w for w in windows if any(w in form for form in forms))
