"""The gateway policy: one versioned YAML file, validated by pydantic, evaluated with a fixed precedence.

Precedence (first match wins, and it is tested):

    explicit deny  >  chaining block  >  review  >  allow  >  default deny

- explicit deny: ``deny`` rules; wildcards allowed (``*:Delete*``, ``iam:*``). They are also rendered into
  the execute role's IAM policy, so either layer alone blocks them.
- chaining block: detector findings of kind ``chaining`` with effect ``deny`` (and any detector ``deny``).
- review: actions listed under ``review.actions``, and detector findings with effect ``review``. Review only
  escalates an action that could run at all (allowlisted for the caller, or review-listed): approval can
  never grant what the allowlist and IAM do not.
- allow: exact ``service:Action`` entries (no wildcards), with resource patterns; group overrides add entries
  and raise limits.
- default deny.

A policy that fails to load or validate is represented by ``PolicyUnavailable``, whose evaluation denies
everything with ``POLICY_UNAVAILABLE``: checks are never skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

from .detection import DEFAULT_RULES, Detector, Finding, PatternRule
from .errors import PolicyError, ReasonCode
from .models import ActionRequest, Decision, Outcome, StrictModel, Tier

ExactAction = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,40}:[A-Za-z0-9]{2,100}$")]
ActionPattern = Annotated[str, StringConstraints(pattern=r"^[a-z0-9*-]{1,40}:[A-Za-z0-9*]{1,100}$")]
ResourcePattern = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[^\s\[\]?]+$")]
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,80}$")]

MAX_POLICY_BYTES = 256 * 1024


def _glob_regex(pattern: str, *, case_insensitive: bool = False) -> re.Pattern[str]:
    """``*`` is the only wildcard; everything else is literal. Linear-time (no nested quantifiers)."""
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(f"^{body}$", re.IGNORECASE if case_insensitive else 0)


def access_level_tier(action: str) -> Tier:
    """Default tier from the IAM access level implied by the action verb."""
    verb = action.split(":", 1)[1]
    if verb.startswith(("List", "Describe")) or verb in {"FilterLogEvents", "ListAllMyBuckets"}:
        return Tier.LIST
    if verb.startswith(("Get", "Head", "Query", "Select", "Lookup", "StartQuery", "Scan", "BatchGet")):
        return Tier.READ
    return Tier.WRITE


class RateTier(StrictModel):
    limit: int = Field(ge=0, le=1_000_000)
    window_seconds: int = Field(default=300, ge=1, le=86_400)


class DataLimits(StrictModel):
    max_object_bytes: int = Field(default=1_048_576, ge=1, le=5 * 1024**3)
    max_log_time_range_seconds: int = Field(default=7 * 86_400, ge=60, le=90 * 86_400)
    max_result_bytes: int = Field(default=200_000, ge=1_024, le=240_000)


class DataBudgets(StrictModel):
    bytes_per_day: int = Field(default=512 * 1024**2, ge=0)
    objects_per_window: int = Field(default=500, ge=0)
    window_seconds: int = Field(default=300, ge=1, le=86_400)


class AllowRule(StrictModel):
    action: ExactAction
    resources: tuple[ResourcePattern, ...] = Field(min_length=1, max_length=100)
    tier: Tier | None = None
    id: RuleId | None = None

    @property
    def rule_id(self) -> str:
        return self.id or f"allow.{self.action.replace(':', '.').lower()}"

    @cached_property
    def _resource_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(_glob_regex(r) for r in self.resources)

    def covers(self, resource: str) -> bool:
        return any(r.match(resource) for r in self._resource_res)

    @property
    def effective_tier(self) -> Tier:
        return self.tier or access_level_tier(self.action)


class DenyRule(StrictModel):
    id: RuleId
    actions: tuple[ActionPattern, ...] = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)

    @cached_property
    def _action_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(_glob_regex(a, case_insensitive=True) for a in self.actions)

    def matches(self, action: str) -> bool:
        return any(r.match(action) for r in self._action_res)


class ReviewSection(StrictModel):
    actions: tuple[ExactAction, ...] = ()
    timeout_seconds: int = Field(default=900, ge=60, le=86_400)


class GroupOverride(StrictModel):
    allow: tuple[AllowRule, ...] = ()
    tiers: dict[Tier, RateTier] = Field(default_factory=dict)
    see_pii: bool = False


class Approvers(StrictModel):
    slack_user_ids: tuple[Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{2,20}$")], ...] = ()
    emails: tuple[Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")], ...] = ()
    slack_id_to_email: dict[str, str] = Field(default_factory=dict)


class RedactionPolicy(StrictModel):
    pii_classes: tuple[Literal["email", "phone", "credit_card", "ipv4", "ipv6", "customer_id"], ...] = (
        "email",
        "phone",
        "credit_card",
        "ipv4",
        "ipv6",
        "customer_id",
    )
    customer_id_patterns: tuple[Annotated[str, StringConstraints(max_length=200)], ...] = ()


class RateLimits(StrictModel):
    tiers: dict[Tier, RateTier] = Field(
        default_factory=lambda: {
            Tier.READ: RateTier(limit=100),
            Tier.LIST: RateTier(limit=50),
            Tier.WRITE: RateTier(limit=10),
        }
    )
    global_per_user: RateTier = RateTier(limit=1000)
    fail_open_tiers: tuple[Tier, ...] = ()

    @field_validator("fail_open_tiers")
    @classmethod
    def _never_fail_open_writes(cls, v: tuple[Tier, ...]) -> tuple[Tier, ...]:
        if Tier.WRITE in v:
            raise ValueError("the write tier always fails closed")
        return v


class Policy(StrictModel):
    version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    description: str = Field(default="", max_length=2000)
    allow: tuple[AllowRule, ...] = Field(max_length=500)
    deny: tuple[DenyRule, ...] = Field(min_length=1, max_length=200)
    review: ReviewSection = ReviewSection()
    detection: tuple[PatternRule, ...] = DEFAULT_RULES
    groups: dict[Annotated[str, StringConstraints(max_length=128)], GroupOverride] = Field(default_factory=dict)
    rate_limits: RateLimits = RateLimits()
    data_limits: DataLimits = DataLimits()
    data_budgets: DataBudgets = DataBudgets()
    approvers: Approvers = Approvers()
    redaction: RedactionPolicy = RedactionPolicy()
    # Argument names whose values are resource identifiers: only chaining rules apply to them on their own
    # (a log group called /aws/lambda/delete-user-handler is a name, not an instruction).
    identifier_fields: tuple[str, ...] = (
        "bucket", "key", "prefix", "log_group", "log_stream", "metric_name", "namespace", "dimensions",
        "Bucket", "Key", "Prefix", "logGroupName", "logStreamName", "MetricName", "Namespace",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        ids = [d.id for d in self.deny] + [p.id for p in self.detection]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        for rule in self.allow:
            for deny in self.deny:
                if deny.matches(rule.action):
                    raise ValueError(f"{rule.action} is both allowed and explicitly denied by {deny.id}")
        return self

    @cached_property
    def detector(self) -> Detector:
        return Detector(self.detection)

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    def allow_rules_for(self, groups: Iterable[str]) -> list[AllowRule]:
        rules = list(self.allow)
        for group in groups:
            override = self.groups.get(group)
            if override:
                rules.extend(override.allow)
        return rules

    def tier_limit(self, tier: Tier, groups: Iterable[str]) -> RateTier:
        base = self.rate_limits.tiers.get(tier, RateTier(limit=0))
        best = base
        for group in groups:
            override = self.groups.get(group)
            if override and tier in override.tiers and override.tiers[tier].limit > best.limit:
                best = override.tiers[tier]
        return best

    def sees_pii(self, groups: Iterable[str]) -> bool:
        return any(self.groups.get(g, GroupOverride()).see_pii for g in groups)


def parse_policy(text: str) -> Policy:
    """Parse and validate a policy document. Raises PolicyError (never returns a partial policy)."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise PolicyError("policy file is larger than 256 KiB")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy is not valid YAML: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise PolicyError("policy must be a YAML mapping")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise PolicyError(f"policy is schema-invalid at {loc or '<root>'}: {first['type']}") from None


def _string_fields(params: Mapping[str, Any], prefix: str = "", depth: int = 0) -> Iterable[tuple[str, str]]:
    if depth > 6:
        return
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, str):
            yield name, value
        elif isinstance(value, Mapping):
            yield from _string_fields(value, f"{name}.", depth + 1)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value[:100]):
                if isinstance(item, str):
                    yield f"{name}[{i}]", item
                elif isinstance(item, Mapping):
                    yield from _string_fields(item, f"{name}[{i}].", depth + 1)


def scan_fields(request: ActionRequest) -> dict[str, str]:
    """Every string the agent supplied: the stated intent and each string argument, by name."""
    fields = dict(_string_fields(request.parameters))
    if request.intent:
        fields["intent"] = request.intent
    return fields


def _decision(
    policy: Policy | None,
    outcome: Outcome,
    reason: ReasonCode,
    rule_id: str,
    *,
    tier: Tier | None = None,
    hint: str = "",
    message: str = "",
) -> Decision:
    return Decision(
        outcome=outcome,
        reason=reason,
        rule_id=rule_id,
        tier=tier,
        hint=hint,
        message=message,
        policy_version=f"{policy.version}#{policy.digest}" if policy else "",
    )


def _finding_decision(policy: Policy, findings: Sequence[Finding]) -> Decision | None:
    for kind, effect, reason in (
        ("chaining", "deny", ReasonCode.CHAINING_BLOCKED),
        ("pattern", "deny", ReasonCode.DANGEROUS_PATTERN),
    ):
        for f in findings:
            if f.kind == kind and f.effect == effect:
                return _decision(
                    policy,
                    Outcome.DENY,
                    reason,
                    f.rule_id,
                    hint="make one explicit, single-step request per action; do not chain or loop",
                    message=f"request text matched {f.rule_id} in {f.field}",
                )
    for f in findings:
        if f.effect == "deny":  # any other deny finding (e.g. oversize input)
            return _decision(policy, Outcome.DENY, ReasonCode.INVALID_INPUT, f.rule_id, message=f.field)
    return None


def evaluate(policy: Policy, request: ActionRequest) -> Decision:
    """Decide one canonical request. Pure and deterministic."""
    action = request.action
    groups = request.principal.groups

    for rule in policy.deny:
        if rule.matches(action):
            return _decision(
                policy,
                Outcome.DENY,
                ReasonCode.EXPLICIT_DENY,
                rule.id,
                hint="this action is never available through the gateway",
                message=f"{action} is explicitly denied",
            )

    findings = policy.detector.scan(scan_fields(request), identifier_fields=policy.identifier_fields)
    blocked = _finding_decision(policy, findings)
    if blocked is not None:
        return blocked

    allow_rules = [r for r in policy.allow_rules_for(groups) if r.action == action]
    review_listed = action in policy.review.actions
    tier = allow_rules[0].effective_tier if allow_rules else access_level_tier(action)

    if allow_rules:
        uncovered = [res for res in request.resources if not any(r.covers(res) for r in allow_rules)]
        if uncovered and not review_listed:
            return _decision(
                policy,
                Outcome.DENY,
                ReasonCode.RESOURCE_NOT_ALLOWED,
                allow_rules[0].rule_id,
                tier=tier,
                hint="use explain_policy to see which resources you may access",
                message=f"{action} is not allowed on {uncovered[0][:200]}",
            )

    if review_listed or (allow_rules and any(f.effect == "review" for f in findings)):
        rule_id = (
            "review.action"
            if review_listed
            else next(f.rule_id for f in findings if f.effect == "review")
        )
        return _decision(
            policy,
            Outcome.REVIEW,
            ReasonCode.REVIEW_REQUIRED,
            rule_id,
            tier=tier,
            hint="a human approver must accept this request; poll get_request_status",
        )

    if allow_rules:
        return _decision(policy, Outcome.ALLOW, ReasonCode.ALLOWED, allow_rules[0].rule_id, tier=tier)

    return _decision(
        policy,
        Outcome.DENY,
        ReasonCode.NOT_ALLOWLISTED,
        "default.deny",
        tier=tier,
        hint="use explain_policy to list the actions you may use",
        message=f"{action} is not on the allowlist",
    )


def deny_everything(reason: str) -> Decision:
    """The decision of a gateway whose policy failed to load: every call is denied, with the reason code."""
    return _decision(
        None,
        Outcome.DENY,
        ReasonCode.POLICY_UNAVAILABLE,
        "policy.unavailable",
        hint="the gateway's policy failed to load; ask the operators",
        message=reason[:500],
    )


__all__ = [
    "AllowRule",
    "DataLimits",
    "DenyRule",
    "Finding",
    "PatternRule",
    "Policy",
    "RateTier",
    "access_level_tier",
    "deny_everything",
    "evaluate",
    "parse_policy",
    "scan_fields",
]
