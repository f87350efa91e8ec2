"""Render the execute data role's IAM policy from the gateway policy: exactly the allowed actions and
resources, plus every explicit deny. template.yaml must carry exactly this (tests/unit/test_iam_drift.py)."""

from __future__ import annotations

import re
from typing import Any

from .policy import Policy

# Services whose actions the gateway can reach. "*:Delete*"-style denies are rendered per service, since IAM
# does not accept a wildcard service prefix; the gateway layer still applies the wildcard to every service.
KNOWN_SERVICES = (
    "cloudwatch",
    "dynamodb",
    "ec2",
    "ecr",
    "ecs",
    "iam",
    "kms",
    "lambda",
    "logs",
    "rds",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "states",
    "sts",
)


def _sid(prefix: str, text: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", text)
    return prefix + "".join(w[:1].upper() + w[1:] for w in words if w)[:60]


def _expand(action: str) -> list[str]:
    service, _, name = action.partition(":")
    if service == "*":
        return [f"{s}:{name}" for s in KNOWN_SERVICES]
    return [action]


def group_tag(group: str) -> str:
    """The session tag key that marks membership of ``group`` (IAM tag keys: letters, digits, + - = . _ : / @)."""
    return "gw-group-" + re.sub(r"[^A-Za-z0-9+\-=._:/@]", "_", group)[:100]


def render_data_policy(policy: Policy) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    by_action: dict[str, list[str]] = {}
    for rule in policy.allow:
        resources = by_action.setdefault(rule.action, [])
        resources.extend(r for r in rule.resources if r not in resources)
    for action in sorted(by_action):
        statements.append(
            {
                "Sid": _sid("Allow", action),
                "Effect": "Allow",
                "Action": [action],
                "Resource": sorted(by_action[action]),
            }
        )
    # Group overrides hold only for sessions tagged with that group (the execute function tags each session).
    for group, override in sorted(policy.groups.items()):
        for rule in override.allow:
            statements.append(
                {
                    "Sid": _sid("AllowGroup", f"{group} {rule.action}"),
                    "Effect": "Allow",
                    "Action": [rule.action],
                    "Resource": sorted(rule.resources),
                    "Condition": {"StringEquals": {f"aws:PrincipalTag/{group_tag(group)}": "true"}},
                }
            )
    for deny in policy.deny:
        actions: list[str] = []
        for a in deny.actions:
            for expanded in _expand(a):
                if expanded not in actions:
                    actions.append(expanded)
        statements.append(
            {
                "Sid": _sid("Deny", deny.id.removeprefix("deny.")),
                "Effect": "Deny",
                "Action": sorted(actions),
                "Resource": "*",
            }
        )
    # S3 presigned URLs: deny any request authenticated by query string (defense in depth for presigning).
    statements.append(
        {
            "Sid": "DenyS3Presigned",
            "Effect": "Deny",
            "Action": ["s3:*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"s3:authType": "REST-QUERY-STRING"}},
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}
