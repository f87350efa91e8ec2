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

Within "allow", an action that is allowlisted (or review-listed) is still refused when a resource is not
covered (``RESOURCE_NOT_ALLOWED``) or when one call asks for more data than ``data_limits`` permit
(``DATA_LIMIT_EXCEEDED``: an object read larger than ``max_object_bytes`` or unbounded, a log time range
longer than ``max_log_time_range_seconds`` or unbounded). Both are checked before review: a human can
never approve what the policy would refuse anyway. The full order, as ``evaluate`` applies it:

    1 explicit deny  2 chaining/pattern block  3 resource not covered  4 data limit
    5 review  6 allow  7 default deny

``explain`` returns the very decision ``evaluate`` gives, plus every rule that matched and a hint.

A policy that fails to load or validate is represented by ``PolicyUnavailable``, whose evaluation denies
everything with ``POLICY_UNAVAILABLE``: checks are never skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
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


class DataLimitsOverride(StrictModel):
    """A group's raised data-volume limits; unset fields keep the policy-wide value."""

    max_object_bytes: int | None = Field(default=None, ge=1, le=5 * 1024**3)
    max_log_time_range_seconds: int | None = Field(default=None, ge=60, le=90 * 86_400)
    max_result_bytes: int | None = Field(default=None, ge=1_024, le=240_000)


class GroupOverride(StrictModel):
    allow: tuple[AllowRule, ...] = ()
    tiers: dict[Tier, RateTier] = Field(default_factory=dict)
    data_limits: DataLimitsOverride = DataLimitsOverride()
    see_pii: bool = False


class Approvers(StrictModel):
    slack_user_ids: tuple[Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{2,20}$")], ...] = ()
    emails: tuple[Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")], ...] = ()
    slack_id_to_email: dict[str, str] = Field(default_factory=dict)


class RedactionPolicy(StrictModel):
    pii_classes: tuple[
        Literal["email", "phone", "credit_card", "ipv4", "ipv6", "customer_id", "national_id", "bank_account"], ...
    ] = ("email", "phone", "credit_card", "ipv4", "ipv6", "customer_id", "national_id", "bank_account")
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
        "bucket",
        "key",
        "prefix",
        "log_group",
        "log_stream",
        "metric_name",
        "namespace",
        "dimensions",
        "Bucket",
        "Key",
        "Prefix",
        "logGroupName",
        "logStreamName",
        "MetricName",
        "Namespace",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        ids = [d.id for d in self.deny] + [p.id for p in self.detection]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        group_allows = [rule for override in self.groups.values() for rule in override.allow]
        for rule in (*self.allow, *group_allows):
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

    def data_limits_for(self, groups: Iterable[str]) -> DataLimits:
        """The policy-wide data limits, raised field by field by the caller's group overrides (the most
        generous group wins, as for rate tiers)."""
        values = self.data_limits.model_dump()
        for group in groups:
            override = self.groups.get(group)
            if override is None:
                continue
            for name, value in override.data_limits.model_dump(exclude_none=True).items():
                values[name] = max(values[name], value)
        return DataLimits.model_validate(values)

    def allowed_actions_for(self, groups: Iterable[str]) -> list[str]:
        """The actions a caller with ``groups`` may use (before resources, review and detection)."""
        return sorted({r.action for r in self.allow_rules_for(groups)} | set(self.review.actions))


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
    """Every string the agent supplied, by name: the stated intent first, then each string argument in the
    order sent (the detector also scans them joined, in this order: intent, then arguments)."""
    fields = {"intent": request.intent} if request.intent else {}
    for name, value in _string_fields(request.parameters):
        fields[name if name not in fields else f"parameters.{name}"] = value
    return fields


MAX_SPLIT_PAIRS = 6


def _is_identifier_field(name: str, identifiers: Collection[str]) -> bool:
    return name in identifiers or re.sub(r"\[\d+\]$", "", name.rsplit(".", 1)[-1]) in identifiers


def scan_request(policy: Policy, request: ActionRequest) -> list[Finding]:
    """Detector findings for a request: every field alone and all joined (intent first), plus the joins a
    split payload hides in when other values sit between its parts in a real tool call: the free-text
    fields alone joined, and the intent joined with each identifier argument (both orders)."""
    fields = scan_fields(request)
    identifiers = policy.identifier_fields
    findings = policy.detector.scan(fields, identifier_fields=identifiers)
    if any(f.effect == "deny" for f in findings):
        return findings
    groups: list[dict[str, str]] = []
    free = {n: v for n, v in fields.items() if not _is_identifier_field(n, identifiers)}
    if 1 < len(free) < len(fields):
        groups.append(free)
    if "intent" in fields:
        idents = [n for n in fields if _is_identifier_field(n, identifiers)][:MAX_SPLIT_PAIRS]
        for name in idents:
            groups.append({"intent": fields["intent"], name: fields[name]})
            groups.append({name: fields[name], "intent": fields["intent"]})
    seen = {(f.rule_id, f.term) for f in findings}
    for group in groups:
        for f in policy.detector.scan(group, identifier_fields=identifiers):
            if (f.rule_id, f.term) not in seen:
                seen.add((f.rule_id, f.term))
                findings.append(f)
        if any(f.effect == "deny" for f in findings):
            break
    findings.sort(key=lambda f: (f.effect != "deny", f.kind != "input", f.kind != "chaining", f.rule_id, f.field))
    return findings


def _decision(
    policy: Policy | None,
    outcome: Outcome,
    reason: ReasonCode,
    rule_id: str,
    *,
    tier: Tier | None = None,
    hint: str = "",
    message: str = "",
    limits: dict[str, int] | None = None,
) -> Decision:
    return Decision(
        outcome=outcome,
        reason=reason,
        rule_id=rule_id,
        tier=tier,
        hint=hint,
        message=message,
        policy_version=f"{policy.version}#{policy.digest}" if policy else "",
        limits=limits or {},
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


# --- data-volume limits ------------------------------------------------------------------------------------
_BYTE_RANGE = re.compile(r"^bytes=(\d{0,15})-(\d{0,15})$")
# Actions whose parameters carry a log time range, and the unit of their startTime/endTime (per second).
LOG_RANGE_ACTIONS: dict[str, int] = {
    "logs:FilterLogEvents": 1000,
    "logs:GetLogEvents": 1000,
    "logs:StartQuery": 1,
}
OBJECT_READ_ACTIONS = frozenset({"s3:GetObject", "s3:GetObjectVersion"})


def requested_object_bytes(parameters: Mapping[str, Any]) -> int | None:
    """Bytes one GetObject asks for, from its ``Range``; None when unbounded (no range, an open-ended or
    malformed range, several ranges): an unbounded read is over any limit."""
    value = parameters.get("Range")
    if not isinstance(value, str):
        return None
    match = _BYTE_RANGE.match(value.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not last:
        return None
    if not first:
        return int(last)  # suffix range: the last N bytes
    if int(last) < int(first):
        return None
    return int(last) - int(first) + 1


def requested_log_range_seconds(action: str, parameters: Mapping[str, Any], now: float) -> float | None:
    """Seconds of log time one call covers; None when unbounded (no start time, or not a number)."""
    unit = LOG_RANGE_ACTIONS[action]
    start = parameters.get("startTime")
    end = parameters.get("endTime", int(now * unit))
    if isinstance(start, bool) or isinstance(end, bool):
        return None
    if not isinstance(start, int | float) or not isinstance(end, int | float):
        return None
    return max(0.0, (end - start) / unit)


def data_limit_decision(policy: Policy, request: ActionRequest, *, tier: Tier | None = None) -> Decision | None:
    """DENY DATA_LIMIT_EXCEEDED when one call asks for more data than the caller's limits allow, else None."""
    limits = policy.data_limits_for(request.principal.groups)
    action = request.action
    if action in OBJECT_READ_ACTIONS:
        wanted = requested_object_bytes(request.parameters)
        if wanted is None or wanted > limits.max_object_bytes:
            return _decision(
                policy,
                Outcome.DENY,
                ReasonCode.DATA_LIMIT_EXCEEDED,
                "limit.max-object-bytes",
                tier=tier,
                hint=f"read at most {limits.max_object_bytes} bytes per call (use offset and max_bytes)",
                message="the read is unbounded" if wanted is None else f"{wanted} bytes requested",
                limits={"max_object_bytes": limits.max_object_bytes},
            )
    if action in LOG_RANGE_ACTIONS:
        seconds = requested_log_range_seconds(action, request.parameters, request.requested_at)
        if seconds is None or seconds > limits.max_log_time_range_seconds:
            return _decision(
                policy,
                Outcome.DENY,
                ReasonCode.DATA_LIMIT_EXCEEDED,
                "limit.max-log-time-range",
                tier=tier,
                hint=f"narrow the time range to at most {limits.max_log_time_range_seconds} s",
                message="the time range is unbounded" if seconds is None else f"{int(seconds)} s requested",
                limits={"max_log_time_range_seconds": limits.max_log_time_range_seconds},
            )
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

    findings = scan_request(policy, request)
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

    if allow_rules or review_listed:
        over = data_limit_decision(policy, request, tier=tier)
        if over is not None:
            return over

    if review_listed or (allow_rules and any(f.effect == "review" for f in findings)):
        rule_id = "review.action" if review_listed else next(f.rule_id for f in findings if f.effect == "review")
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


# --- explain -----------------------------------------------------------------------------------------------
class MatchedRule(StrictModel):
    """One rule that matched a request, whether or not it decided."""

    rule_id: str = Field(max_length=256)
    kind: Literal["deny", "detection", "resource", "data_limit", "review", "allow", "default"]
    effect: Literal["deny", "review", "allow"]
    detail: str = Field(default="", max_length=512)


class Explanation(StrictModel):
    """``evaluate``'s decision for a request, the rules that matched it, and a hint toward a safer request."""

    decision: Decision
    matched: tuple[MatchedRule, ...] = ()
    hint: str = Field(default="", max_length=2048)
    allowed_actions: tuple[str, ...] = ()


def explain(policy: Policy, request: ActionRequest) -> Explanation:
    """Would ``request`` be allowed, and why. The decision IS ``evaluate``'s (same outcome, reason, rule id);
    ``matched`` lists every rule that applies, including those a higher-precedence rule overrode."""
    decision = evaluate(policy, request)
    action = request.action
    matched: list[MatchedRule] = []
    for rule in policy.deny:
        if rule.matches(action):
            matched.append(MatchedRule(rule_id=rule.id, kind="deny", effect="deny", detail=f"{action} matches"))
    findings = scan_request(policy, request)
    for f in findings:
        matched.append(MatchedRule(rule_id=f.rule_id, kind="detection", effect=f.effect, detail=f"in {f.field}"))
    allow_rules = [r for r in policy.allow_rules_for(request.principal.groups) if r.action == action]
    for allow_rule in allow_rules:
        covered = [res for res in request.resources if allow_rule.covers(res)]
        matched.append(
            MatchedRule(
                rule_id=allow_rule.rule_id,
                kind="allow" if len(covered) == len(request.resources) else "resource",
                effect="allow" if len(covered) == len(request.resources) else "deny",
                detail=f"covers {len(covered)} of {len(request.resources)} resources",
            )
        )
    if action in policy.review.actions:
        matched.append(MatchedRule(rule_id="review.action", kind="review", effect="review", detail=action))
    if allow_rules or action in policy.review.actions:
        over = data_limit_decision(policy, request)
        if over is not None:
            matched.append(MatchedRule(rule_id=over.rule_id, kind="data_limit", effect="deny", detail=over.message))
    if not matched:
        matched.append(MatchedRule(rule_id="default.deny", kind="default", effect="deny", detail="no rule matched"))
    allowed = tuple(policy.allowed_actions_for(request.principal.groups))
    hint = decision.hint
    if decision.reason is ReasonCode.NOT_ALLOWLISTED:
        hint = f"{hint}; actions you may use: {', '.join(allowed)}"[:2048]
    elif decision.reason is ReasonCode.RESOURCE_NOT_ALLOWED:
        patterns = sorted({p for r in allow_rules for p in r.resources})
        hint = f"{action} is allowed on: {', '.join(patterns)}"[:2048]
    elif decision.outcome is Outcome.ALLOW:
        hint = "this request would be allowed (rate limits and data budgets still apply)"
    return Explanation(decision=decision, matched=tuple(matched), hint=hint, allowed_actions=allowed)


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of the policy file (policy/schema.json), generated from the pydantic model.

    The built-in detection rules are the default of ``detection``; the schema does not copy them (they
    evolve with the detector), it says where they come from."""
    schema = Policy.model_json_schema(mode="validation")
    detection = schema["properties"]["detection"]
    detection.pop("default", None)
    detection["description"] = "Pattern and chaining rules; default: the gateway's built-in rules (DEFAULT_RULES)."
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/mcp-aws-gateway/policy/schema.json"
    schema["title"] = "MCP AWS gateway policy"
    return schema


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
    "DataLimitsOverride",
    "DenyRule",
    "Explanation",
    "Finding",
    "MatchedRule",
    "PatternRule",
    "Policy",
    "RateTier",
    "access_level_tier",
    "data_limit_decision",
    "deny_everything",
    "evaluate",
    "explain",
    "parse_policy",
    "policy_json_schema",
    "requested_log_range_seconds",
    "requested_object_bytes",
    "scan_fields",
]
