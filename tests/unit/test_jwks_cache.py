"""JwksCache: TTLs from Cache-Control, bounded refetching, rotation, failures and key hygiene."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import FIXED_NOW, FakeClock
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from mcp_gateway.domain.errors import AuthError, ConfigError, ReasonCode
from mcp_gateway.domain.tokens import JwksCache, verify_idp_token
from mcp_gateway_local.idp import LocalIdP

URL = "https://idp.example/oauth2/default/v1/keys"
NOW = FIXED_NOW


class StaticFetcher:
    """Serves a mutable JWKS document; can be told to fail; counts calls and their URLs."""

    def __init__(self, document: dict[str, Any], max_age: int | None = None, delay: float = 0.0) -> None:
        self.document = document
        self.max_age = max_age
        self.delay = delay
        self.fail = False
        self.urls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, url: str) -> tuple[dict[str, Any], int | None]:
        with self._lock:
            self.urls.append(url)
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise TimeoutError("IdP unreachable")
        return self.document, self.max_age


def b64(n: int, length: int | None = None) -> str:
    size = length or (n.bit_length() + 7) // 8
    return base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode()


def rsa_jwk(kid: str, bits: int = 2048, **extra: Any) -> dict[str, Any]:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "n": b64(numbers.n), "e": b64(numbers.e), **extra}


def ec_jwk(kid: str, curve: ec.EllipticCurve | None = None, **extra: Any) -> dict[str, Any]:
    curve = curve or ec.SECP256R1()
    numbers = ec.generate_private_key(curve).public_key().public_numbers()
    size = (curve.key_size + 7) // 8
    crv = {256: "P-256", 384: "P-384"}[curve.key_size]
    return {
        "kty": "EC",
        "kid": kid,
        "crv": crv,
        "x": b64(numbers.x, size),
        "y": b64(numbers.y, size),
        **extra,
    }


@pytest.fixture(scope="module")
def rsa_a() -> dict[str, Any]:
    return rsa_jwk("rsa-a", use="sig", alg="RS256")


@pytest.fixture(scope="module")
def ec_a() -> dict[str, Any]:
    return ec_jwk("ec-a", use="sig")


def code_of(cache: JwksCache, kid: str, alg: str) -> ReasonCode:
    with pytest.raises(AuthError) as info:
        cache.get_key(kid, alg)
    return info.value.code


# ---- TTL -----------------------------------------------------------------------------------------


def test_keys_are_cached_for_cache_control_max_age(rsa_a: dict[str, Any], clock: FakeClock) -> None:
    fetcher = StaticFetcher({"keys": [rsa_a]}, max_age=120)
    cache = JwksCache(URL, fetcher, clock)
    cache.get_key("rsa-a", "RS256")
    clock.now = NOW + 119
    cache.get_key("rsa-a", "RS256")
    assert cache.fetch_count == 1
    clock.now = NOW + 120
    cache.get_key("rsa-a", "RS256")
    assert cache.fetch_count == 2
    assert fetcher.urls == [URL, URL]


def test_max_age_is_bounded_by_max_ttl(rsa_a: dict[str, Any], clock: FakeClock) -> None:
    cache = JwksCache(URL, StaticFetcher({"keys": [rsa_a]}, max_age=10**9), clock, max_ttl=3600)
    cache.get_key("rsa-a", "RS256")
    clock.now = NOW + 3599
    cache.get_key("rsa-a", "RS256")
    assert cache.fetch_count == 1
    clock.now = NOW + 3600
    cache.get_key("rsa-a", "RS256")
    assert cache.fetch_count == 2


def test_without_max_age_the_default_ttl_applies(rsa_a: dict[str, Any], clock: FakeClock) -> None:
    cache = JwksCache(URL, StaticFetcher({"keys": [rsa_a]}, max_age=None), clock, default_ttl=300)
    cache.get_key("rsa-a", "RS256")
    clock.now = NOW + 299
    cache.get_key("rsa-a", "RS256")
    assert cache.fetch_count == 1
    clock.now = NOW + 300
    cache.get_key("rsa-a", "RS256")
    assert cache.fetch_count == 2


def test_a_zero_max_age_cannot_force_a_fetch_per_request(rsa_a: dict[str, Any], clock: FakeClock) -> None:
    cache = JwksCache(URL, StaticFetcher({"keys": [rsa_a]}, max_age=0), clock, min_refetch_interval=60)
    for _ in range(100):
        cache.get_key("rsa-a", "RS256")
    assert cache.fetch_count == 1
    clock.now = NOW + 60
    cache.get_key("rsa-a", "RS256")
    assert cache.fetch_count == 2


# ---- refetch bounds ------------------------------------------------------------------------------


def test_a_thousand_random_unknown_kids_cause_at_most_one_fetch_per_interval(
    rsa_a: dict[str, Any], clock: FakeClock
) -> None:
    fetcher = StaticFetcher({"keys": [rsa_a]}, max_age=3600)
    cache = JwksCache(URL, fetcher, clock)
    codes = {code_of(cache, secrets.token_hex(8), "RS256") for _ in range(1000)}
    assert codes == {ReasonCode.AUTH_UNKNOWN_KEY}
    assert cache.fetch_count == 1

    clock.now = NOW + 59
    assert code_of(cache, "still-unknown", "RS256") is ReasonCode.AUTH_UNKNOWN_KEY
    assert cache.fetch_count == 1

    clock.now = NOW + 61  # the interval has passed: exactly one more fetch is allowed
    for _ in range(1000):
        code_of(cache, secrets.token_hex(8), "RS256")
    assert cache.fetch_count == 2
    assert cache.get_key("rsa-a", "RS256") is not None
    assert cache.fetch_count == 2


def test_concurrent_unknown_kids_do_not_stampede_the_idp(rsa_a: dict[str, Any], clock: FakeClock) -> None:
    fetcher = StaticFetcher({"keys": [rsa_a]}, max_age=3600, delay=0.05)
    cache = JwksCache(URL, fetcher, clock)
    barrier = threading.Barrier(20)
    outcomes: list[ReasonCode] = []
    lock = threading.Lock()

    def attack() -> None:
        barrier.wait()
        for _ in range(50):
            try:
                cache.get_key(secrets.token_hex(8), "RS256")
            except AuthError as exc:
                with lock:
                    outcomes.append(exc.code)

    threads = [threading.Thread(target=attack) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 1000
    assert set(outcomes) == {ReasonCode.AUTH_UNKNOWN_KEY}
    assert cache.fetch_count == 1
    assert len(fetcher.urls) == 1


def test_a_rotated_key_is_accepted_after_exactly_one_refetch(clock: FakeClock) -> None:
    old_idp = LocalIdP("https://idp.example/oauth2/default")
    new_idp = LocalIdP("https://idp.example/oauth2/default")
    fetcher = StaticFetcher(old_idp.jwks(), max_age=3600)
    cache = JwksCache(old_idp.jwks_url, fetcher, clock)
    config = old_idp.idp_config()
    assert verify_idp_token(old_idp.mint("dev@example.com", [], now=NOW), config, cache, clock)
    assert cache.fetch_count == 1

    # The IdP rotates: it now publishes the new key next to the old one.
    fetcher.document = {"keys": old_idp.jwks()["keys"] + new_idp.jwks()["keys"]}
    clock.now = NOW + 61
    rotated = new_idp.mint("dev@example.com", [], now=clock.now)
    assert verify_idp_token(rotated, config, cache, clock).email == "dev@example.com"
    assert cache.fetch_count == 2
    assert verify_idp_token(rotated, config, cache, clock)
    assert verify_idp_token(old_idp.mint("dev@example.com", [], now=clock.now), config, cache, clock)
    assert cache.fetch_count == 2


# ---- failures ------------------------------------------------------------------------------------


def test_a_failed_first_fetch_means_keys_unavailable(rsa_a: dict[str, Any], clock: FakeClock) -> None:
    fetcher = StaticFetcher({"keys": [rsa_a]})
    fetcher.fail = True
    cache = JwksCache(URL, fetcher, clock)
    assert code_of(cache, "rsa-a", "RS256") is ReasonCode.AUTH_KEYS_UNAVAILABLE


def test_a_still_valid_cache_survives_an_outage_until_it_expires(rsa_a: dict[str, Any], clock: FakeClock) -> None:
    fetcher = StaticFetcher({"keys": [rsa_a]}, max_age=300)
    cache = JwksCache(URL, fetcher, clock, failure_backoff=10)
    cache.get_key("rsa-a", "RS256")
    fetcher.fail = True

    clock.now = NOW + 61
    assert code_of(cache, "rotated-kid", "RS256") is ReasonCode.AUTH_KEYS_UNAVAILABLE
    assert cache.get_key("rsa-a", "RS256") is not None  # still-valid cache holds the kid
    clock.now = NOW + 299
    assert cache.get_key("rsa-a", "RS256") is not None

    clock.now = NOW + 300  # expired and the IdP is still down
    assert code_of(cache, "rsa-a", "RS256") is ReasonCode.AUTH_KEYS_UNAVAILABLE
    attempts = cache.fetch_count
    clock.now = NOW + 305  # inside the failure back-off: no new attempt
    assert code_of(cache, "rsa-a", "RS256") is ReasonCode.AUTH_KEYS_UNAVAILABLE
    assert cache.fetch_count == attempts

    fetcher.fail = False
    clock.now = NOW + 311
    assert cache.get_key("rsa-a", "RS256") is not None
    assert cache.fetch_count == attempts + 1


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {"keys": "nope"},
        {"keys": []},
        {"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]},
        {"no_keys": []},
    ],
)
def test_an_unusable_jwks_document_means_keys_unavailable(clock: FakeClock, document: Any) -> None:
    cache = JwksCache(URL, StaticFetcher(document), clock)
    assert code_of(cache, "any", "RS256") is ReasonCode.AUTH_KEYS_UNAVAILABLE


def test_too_many_keys_is_refused(clock: FakeClock) -> None:
    keys = [ec_jwk(f"k{i}") for i in range(21)]
    cache = JwksCache(URL, StaticFetcher({"keys": keys}), clock, max_keys=20)
    assert code_of(cache, "k0", "ES256") is ReasonCode.AUTH_KEYS_UNAVAILABLE


# ---- key hygiene ---------------------------------------------------------------------------------


def test_key_type_must_match_the_algorithm(rsa_a: dict[str, Any], ec_a: dict[str, Any], clock: FakeClock) -> None:
    cache = JwksCache(URL, StaticFetcher({"keys": [rsa_a, ec_a]}), clock)
    assert isinstance(cache.get_key("rsa-a", "RS256"), rsa.RSAPublicKey)
    assert isinstance(cache.get_key("ec-a", "ES256"), ec.EllipticCurvePublicKey)
    assert code_of(cache, "rsa-a", "ES256") is ReasonCode.AUTH_BAD_ALGORITHM
    assert code_of(cache, "ec-a", "RS256") is ReasonCode.AUTH_BAD_ALGORITHM
    assert code_of(cache, "rsa-a", "PS256") is ReasonCode.AUTH_BAD_ALGORITHM  # the JWK pins alg RS256
    for alg in ("HS256", "none", "ES384", "EdDSA"):
        assert code_of(cache, "rsa-a", alg) is ReasonCode.AUTH_BAD_ALGORITHM


def test_an_rsa_key_without_alg_serves_every_rsa_algorithm(clock: FakeClock) -> None:
    cache = JwksCache(URL, StaticFetcher({"keys": [rsa_jwk("r")]}), clock)
    assert cache.get_key("r", "RS256") is cache.get_key("r", "PS256")


@pytest.mark.parametrize(
    "jwk_factory",
    [
        lambda: rsa_jwk("bad", use="enc"),
        lambda: rsa_jwk("bad", key_ops=["encrypt"]),
        lambda: rsa_jwk("bad", bits=1024),
        lambda: ec_jwk("bad", ec.SECP384R1()),
        lambda: {**ec_jwk("bad"), "y": ec_jwk("other")["x"]},  # point not on the curve
        lambda: {**rsa_jwk("bad"), "n": "***"},
        lambda: {"kty": "oct", "kid": "bad", "k": "c2VjcmV0"},
        lambda: {
            "kty": "OKP",
            "kid": "bad",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        },
    ],
    ids=["use-enc", "key_ops-encrypt", "rsa-1024", "ec-p384", "ec-off-curve", "rsa-bad-n", "oct", "okp"],
)
def test_unusable_keys_are_ignored(
    rsa_a: dict[str, Any], clock: FakeClock, jwk_factory: Callable[[], dict[str, Any]]
) -> None:
    cache = JwksCache(URL, StaticFetcher({"keys": [rsa_a, jwk_factory()]}), clock)
    assert cache.get_key("rsa-a", "RS256") is not None
    assert code_of(cache, "bad", "RS256") is ReasonCode.AUTH_UNKNOWN_KEY
    assert code_of(cache, "bad", "ES256") is ReasonCode.AUTH_UNKNOWN_KEY


def test_a_kid_published_twice_is_trusted_for_neither(rsa_a: dict[str, Any], clock: FakeClock) -> None:
    cache = JwksCache(URL, StaticFetcher({"keys": [rsa_a, rsa_jwk("twin"), rsa_jwk("twin")]}), clock)
    assert code_of(cache, "twin", "RS256") is ReasonCode.AUTH_UNKNOWN_KEY
    assert cache.get_key("rsa-a", "RS256") is not None


@pytest.mark.parametrize("kid", ["", "k" * 129, "a\nb", "\x00", 42, None])
def test_an_invalid_kid_is_refused_without_fetching(rsa_a: dict[str, Any], clock: FakeClock, kid: Any) -> None:
    cache = JwksCache(URL, StaticFetcher({"keys": [rsa_a]}), clock)
    assert code_of(cache, kid, "RS256") is ReasonCode.AUTH_MALFORMED
    assert cache.fetch_count == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_refetch_interval": 0},
        {"default_ttl": 30, "min_refetch_interval": 60},
        {"default_ttl": 4000, "max_ttl": 3600},
        {"max_keys": 0},
    ],
)
def test_cache_configuration_is_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        JwksCache(URL, StaticFetcher({"keys": []}), **kwargs)
