"""Token logic: verify the developer's IdP JWT, mint and verify the gateway's own session token.

Split by capability:

* :mod:`.parsing`: the hardened front end both verify paths share (size cap, strict compact-JWS
  decoding, duplicate keys, forbidden headers, one pinned algorithm) and the claim checks;
* :mod:`.idp`: :class:`IdpConfig`, the :class:`JwksCache` (one configured URL, injected fetcher, bounded
  refetching) and :func:`verify_idp_token` (issuer, audience and algorithm pinning);
* :mod:`.session`: the gateway's ES256 session tokens (:class:`SessionTokenService`) and their key sets.

Nothing in this package performs I/O: the JWKS fetcher and the clock are injected.
"""

from __future__ import annotations

from .idp import (
    SUPPORTED_IDP_ALGORITHMS,
    IdentityClaims,
    IdpConfig,
    JwksCache,
    JwksFetcher,
    parse_max_age,
    verify_idp_token,
)
from .parsing import FORBIDDEN_HEADERS, Clock, token_fingerprint
from .session import IssuedToken, SessionKey, SessionKeySet, SessionTokenService, generate_session_key

__all__ = [
    "FORBIDDEN_HEADERS",
    "SUPPORTED_IDP_ALGORITHMS",
    "Clock",
    "IdentityClaims",
    "IdpConfig",
    "IssuedToken",
    "JwksCache",
    "JwksFetcher",
    "SessionKey",
    "SessionKeySet",
    "SessionTokenService",
    "generate_session_key",
    "parse_max_age",
    "token_fingerprint",
    "verify_idp_token",
]
