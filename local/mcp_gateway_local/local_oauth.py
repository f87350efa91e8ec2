"""The local stack's half of the OAuth sign-in (issue 15): the OIDC provider on the local IdP server, the
gateway's client there, a pre-registered confidential agent client (ID-JAG), and the loopback CA used for
client ID metadata documents. Mixed into ``LocalStack``; nothing here is shipped."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from .idp_oidc import OidcProvider
from .local_tls import LocalCA

GATEWAY_IDP_CLIENT_ID = "mcp-gateway-web"
AGENT_CLIENT_ID = "local-agent"


@dataclass(frozen=True)
class AgentClient:
    """A confidential client registered at both the gateway and the IdP (SEP-990 ID-JAG)."""

    client_id: str
    client_secret: str


class LocalOAuthMixin:
    host: str
    ports: dict[str, int]
    state_dir: Any
    idp: Any

    oidc: OidcProvider
    local_ca: LocalCA
    idp_client_secret: str
    oauth_agent: AgentClient

    def _start_oauth(self, idp_server: Any) -> None:
        self.oidc = OidcProvider(self.idp)
        idp_server.oidc = self.oidc
        self.idp_client_secret = secrets.token_urlsafe(32)
        gateway = f"http://{self.host}:{self.ports['gateway']}"
        self.oidc.register_client(GATEWAY_IDP_CLIENT_ID, self.idp_client_secret, [f"{gateway}/oauth/callback"])
        self.oauth_agent = AgentClient(AGENT_CLIENT_ID, secrets.token_urlsafe(32))
        self.oidc.register_client(AGENT_CLIENT_ID, self.oauth_agent.client_secret, [])
        self.local_ca = LocalCA.create(self.state_dir / "tls")

    @property
    def oauth_parameters(self) -> dict[str, str]:
        agent = {
            "client_id": self.oauth_agent.client_id,
            "client_name": "local agent (ID-JAG)",
            "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "token_endpoint_auth_method": "client_secret_post",
            "client_secret_sha256": hashlib.sha256(self.oauth_agent.client_secret.encode()).hexdigest(),
        }
        return {
            "IdpAuthorizationEndpoint": f"{self.idp.issuer}/authorize",
            "IdpTokenEndpoint": f"{self.idp.issuer}/token",
            "IdpClientId": GATEWAY_IDP_CLIENT_ID,
            "OAuthClients": json.dumps([agent]),
        }

    @property
    def oauth_environment(self) -> dict[str, str]:
        return {
            "OAUTH_LOCAL_MODE": "true",
            "OAUTH_CIMD_CA_FILE": str(self.local_ca.ca_file),
            "OAUTH_CIMD_TIMEOUT_SECONDS": "2",
        }
