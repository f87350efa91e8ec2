"""Load the policy once per cold start. A failure is remembered, and every decision then denies."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .domain.errors import PolicyError
from .domain.policy import Policy, parse_policy

BUNDLED = "gateway-policy.yaml"


def read_policy_text(path: str = "") -> str:
    if path:
        return Path(path).read_text(encoding="utf-8")
    env_path = os.environ.get("POLICY_PATH", "")
    if env_path:
        return Path(env_path).read_text(encoding="utf-8")
    return resources.files("mcp_gateway").joinpath("bundled", BUNDLED).read_text(encoding="utf-8")


def load_policy(path: str = "") -> Policy:
    try:
        text = read_policy_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"policy file could not be read: {type(exc).__name__}") from None
    return parse_policy(text)
