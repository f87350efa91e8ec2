"""What the command-line tools need to find a running local stack, without importing the stack itself: its fixed
account and region, the default state directory and ``.local/stack.json`` (:class:`StackInfo`). ``stack.py`` starts
the stack and re-exports these; a CLI command that only talks to a running stack imports this module alone (the
stack's own imports, the IdP and OAuth machinery, are a third of a command's start-up)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .template import ROOT

ACCOUNT = "123456789012"
REGION = "us-east-1"
DEFAULT_STATE_DIR = ROOT / ".local"


@dataclass
class StackInfo:
    """What the CLI needs to talk to a running local stack (written to .local/stack.json)."""

    moto_endpoint: str
    gateway_url: str
    mcp_url: str
    callback_url: str
    idp_issuer: str
    idp_key_dir: str
    idp_audience: str
    idp_client_id: str
    resources: dict[str, str] = field(default_factory=dict)
    slack_signing_secret: str = ""
    approvals_log: str = ""
    slack_url: str = ""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)

    @classmethod
    def load(cls, path: Path) -> StackInfo:
        return cls(**json.loads(path.read_text()))
