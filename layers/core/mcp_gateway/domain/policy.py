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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import cached_property
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

from .detection import _PROSE, DEFAULT_RULES, JOINED_FIELD, Detector, Finding, Memo, PatternRule, finding_order
from .errors import PolicyError, ReasonCode
from .intent import term_positions
from .models import ActionRequest, Decision, Outcome, StrictModel, Tier
from .session import UNKNOWN_STATE, SessionPolicy, SessionState, observe, session_verdict

ExactAction = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,40}:[A-Za-z0-9]{2,100}$")]
ActionPattern = Annotated[str, StringConstraints(pattern=r"^[a-z0-9*-]{1,40}:[A-Za-z0-9*]{1,100}$")]
ResourcePattern = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[^\s\[\]?]+$")]
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,80}$")]

MAX_POLICY_BYTES = 256 * 1024


def _glob_regex(pattern: str, *, case_insensitive: bool = False) -> re.Pattern[str]:
    """``*`` is the only wildcard; everything else is literal. Linear-time (no nested quantifiers)."""
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(f"^{body}$", re.IGNORECASE if case_insensitive else 0)


AccessLevel = Literal["list", "read", "write", "permissions-management", "tagging"]
READ_ONLY_LEVELS: frozenset[str] = frozenset({"list", "read"})

# IAM access levels (the service authorization reference) of actions whose verb does not say it, and of the
# actions the gateway ships rules for. Anything else falls back on the verb (see ``access_level``); a policy
# can set or correct any action under ``access_levels``.
ACCESS_LEVELS: dict[str, AccessLevel] = {
    "s3:ListAllMyBuckets": "list",
    "s3:ListBucket": "list",
    "s3:ListBucketVersions": "list",
    "s3:GetObject": "read",
    "s3:GetObjectVersion": "read",
    "s3:GetBucketLocation": "read",
    "s3:PutObject": "write",
    "s3:PutBucketPolicy": "permissions-management",
    "s3:PutBucketAcl": "permissions-management",
    "s3:PutObjectAcl": "permissions-management",
    "s3:PutBucketPublicAccessBlock": "permissions-management",
    "s3:DeleteBucketPolicy": "permissions-management",
    "s3:PutBucketTagging": "tagging",
    "s3:PutObjectTagging": "tagging",
    "logs:FilterLogEvents": "read",
    "logs:GetLogEvents": "read",
    "logs:StartQuery": "read",
    "logs:GetQueryResults": "read",
    "logs:StopQuery": "read",
    "logs:DescribeLogGroups": "list",
    "logs:DescribeLogStreams": "list",
    "logs:PutResourcePolicy": "permissions-management",
    "logs:PutRetentionPolicy": "write",
    "cloudwatch:GetMetricData": "read",
    "cloudwatch:GetMetricStatistics": "read",
    "cloudwatch:ListMetrics": "list",
    "cloudwatch:DescribeAlarms": "list",
    "sts:GetCallerIdentity": "read",
    "sqs:ReceiveMessage": "write",  # hides messages from other consumers
    "lambda:InvokeFunction": "write",
    "ssm:SendCommand": "write",
    "athena:StartQueryExecution": "write",
    "kms:Decrypt": "write",
}
_PERMISSION_VERBS = ("Attach", "Detach", "AddPermission", "RemovePermission", "Grant", "Revoke")


def access_level(action: str, overrides: Mapping[str, str] | None = None) -> AccessLevel:
    """The IAM access level of ``action``: the policy's ``access_levels``, the built-in table, else the verb."""
    if overrides and action in overrides:
        return overrides[action]  # type: ignore[return-value]
    if action in ACCESS_LEVELS:
        return ACCESS_LEVELS[action]
    verb = action.split(":", 1)[1]
    if verb.startswith(("Tag", "Untag")):
        return "tagging"
    if verb.startswith(_PERMISSION_VERBS) or verb.endswith(("Policy", "Acl", "Permission", "Permissions")):
        return "permissions-management"
    if verb.startswith(("List", "Describe")):
        return "list"
    if verb.startswith(("Get", "Head", "Query", "Select", "Lookup", "StartQuery", "Scan", "BatchGet", "Filter")):
        return "read"
    return "write"


def access_level_tier(action: str, overrides: Mapping[str, str] | None = None) -> Tier:
    """Default rate tier from the IAM access level: list -> list, read -> read, anything else -> write."""
    level = access_level(action, overrides)
    if level == "list":
        return Tier.LIST
    if level == "read":
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


MAX_REMEMBERED_ANSWERS = 4096
"""A policy remembers at most this many answers of its per-action and per-group lookups."""

_ACCOUNT_WIDE = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:[A-Za-z0-9-]+[:/]\*$")


class AllowRule(StrictModel):
    action: ExactAction
    resources: tuple[ResourcePattern, ...] = Field(min_length=1, max_length=100)
    tier: Tier | None = None
    id: RuleId | None = None
    preapproved: bool = Field(
        default=False, description="a write this rule allows runs without review (an explicit pre-approval)"
    )

    @property
    def rule_id(self) -> str:
        return self.id or f"allow.{self.action.replace(':', '.').lower()}"

    @cached_property
    def _resource_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(_glob_regex(r) for r in self.resources)

    def covers(self, resource: str) -> bool:
        """A request's ``*`` (an account-wide call, e.g. DescribeLogGroups through call_aws) is covered by
        ``*`` or by a pattern granting every resource of its type (``arn:aws:logs:*:*:log-group:*``)."""
        if resource == "*":
            return any(p == "*" or _ACCOUNT_WIDE.match(p) for p in self.resources)
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
    action_classes: tuple[AccessLevel, ...] = Field(
        default=(),
        description="access levels that always go to review unless the allowing rule is preapproved",
    )
    timeout_seconds: int = Field(default=900, ge=60, le=86_400)


class IntentSignals(StrictModel):
    """How detector findings count on a read-only call (list/read access level), where words are signals.

    ``always_review``: rules whose words raise scrutiny wherever they sit (bulk reads, exfiltration, prompt
    injection). ``signal_only``: rules recorded on the audit record only (sequencing and iteration words: a
    read cannot carry out a chain; chains are caught from behaviour). Every other rule sends the call to
    review when its term is an instruction (not a mention) or matched only after decoding/de-obfuscation."""

    always_review: tuple[RuleId, ...] = ("chain.fan-out", "deny.exfiltration", "deny.prompt-injection")
    signal_only: tuple[RuleId, ...] = ("chain.sequencing", "chain.iteration")


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
    access_levels: dict[ExactAction, AccessLevel] = Field(default_factory=dict)
    intent_signals: IntentSignals = IntentSignals()
    session: SessionPolicy = SessionPolicy()
    # Resources whose reads raise scrutiny: a read of one with an intent signal goes to review.
    sensitive_resources: tuple[ResourcePattern, ...] = Field(default=(), max_length=100)
    # API parameters that are DATA on a read-only call (a filter pattern, an object key, a Logs Insights
    # query string): their words are what is searched for, not instructions (matched on the last segment).
    data_fields: tuple[Annotated[str, StringConstraints(min_length=1, max_length=100)], ...] = (
        "filterPattern",
        "queryString",
        "Key",
        "Prefix",
        "Bucket",
        "logGroupName",
        "logGroupNames",
        "logGroupIdentifiers",
        "logGroupNamePrefix",
        "logGroupNamePattern",
        "logStreamName",
        "logStreamNames",
        "logStreamNamePrefix",
        "MetricName",
        "Namespace",
        "Name",
        "Value",
        "Id",
        "Label",
        "Expression",
        "Stat",
        "Unit",
        "StartAfter",
        "ContinuationToken",
        "NextToken",
        "nextToken",
        "Delimiter",
        "Range",
        "VersionId",
        "AlarmNames",
        "AlarmNamePrefix",
        "StateValue",
        "queryId",
        "orderBy",
        "EncodingType",
        "ScanBy",
        "StartTime",
        "EndTime",
    )
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
    def _sensitive_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(_glob_regex(p) for p in self.sensitive_resources)

    def sensitive(self, resource: str) -> bool:
        return any(p.match(resource) for p in self._sensitive_res)

    def access_level(self, action: str) -> AccessLevel:
        return access_level(action, self.access_levels)

    @cached_property
    def data_fields_set(self) -> frozenset[str]:
        return frozenset(self.data_fields) | frozenset(self.identifier_fields)

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    @cached_property
    def _answers(self) -> dict[tuple[str, tuple[str, ...], str], Any]:
        """What the lookups below answered, by question (the policy is immutable, so answers never change):
        at most ``MAX_REMEMBERED_ANSWERS``, forgotten all at once past that (the questions come from requests)."""
        return {}

    def _remembered(self, question: tuple[str, tuple[str, ...], str], answer: Callable[[], Any]) -> Any:
        answers = self._answers
        if question in answers:
            return answers[question]
        value = answer()
        if len(answers) >= MAX_REMEMBERED_ANSWERS:
            answers.clear()
        answers[question] = value
        return value

    def deny_rule_for(self, action: str) -> DenyRule | None:
        """The first explicit deny rule matching ``action``, or None."""
        found: DenyRule | None = self._remembered(
            ("deny", (), action), lambda: next((rule for rule in self.deny if rule.matches(action)), None)
        )
        return found

    def allow_rules_for_action(self, groups: Iterable[str], action: str) -> tuple[AllowRule, ...]:
        """:meth:`allow_rules_for` the caller's groups, only the rules for ``action``, in the same order."""
        groups = tuple(groups)
        rules: tuple[AllowRule, ...] = self._remembered(
            ("allow", groups, action), lambda: tuple(r for r in self.allow_rules_for(groups) if r.action == action)
        )
        return rules

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
        groups = tuple(groups)
        limits: DataLimits = self._remembered(("data-limits", groups, ""), lambda: self._data_limits_for(groups))
        return limits

    def _data_limits_for(self, groups: tuple[str, ...]) -> DataLimits:
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
    if name in identifiers:
        return True
    if "." not in name and not name.endswith("]"):  # a plain name: its last part is itself
        return False
    return _INDEX_SUFFIX.sub("", name.rsplit(".", 1)[-1]) in identifiers


_INDEX_SUFFIX = re.compile(r"\[\d+\]$")


def inert_on_read(policy: Policy, name: str, value: str) -> bool:
    """Whether, on a read-only call, the findings of field ``name`` alone are ignored (``_read_scrutiny``): a data
    field (a filter pattern, a query string) is data, and an identifier field holding a name (no whitespace) is a
    resource name. Prose in an identifier slot is judged, and so are the intent and unknown parameters."""
    if name in ("intent", JOINED_FIELD) or not _is_identifier_field(name, policy.data_fields_set):
        return False
    return not _is_identifier_field(name, policy.identifier_fields) or not _PROSE.search(value)


def inert_fields(policy: Policy, fields: Mapping[str, str]) -> frozenset[str]:
    """The names of a read's fields whose own findings the decision ignores (:func:`inert_on_read`)."""
    return frozenset(name for name, value in fields.items() if inert_on_read(policy, name, value))


def scan_request(policy: Policy, request: ActionRequest, *, read_only: bool = False) -> list[Finding]:
    """Detector findings for a request: every field alone and all joined (intent first), plus the joins a
    split payload hides in when other values sit between its parts in a real tool call: the free-text
    fields alone joined, and the intent joined with each identifier argument (both orders).

    ``read_only``: for a read-only call, whose data fields' own findings are ignored (:func:`inert_on_read`),
    those findings are neither computed nor returned (the fields are still read in the joins, see
    ``Detector.scan``'s ``inert``), and they neither end the scan early nor hide a later join's finding."""
    fields = scan_fields(request)
    identifiers = policy.identifier_fields
    inert = inert_fields(policy, fields) if read_only else frozenset()
    memo: Memo = {}  # each text is read once per request, however many joins it takes part in
    findings = policy.detector.scan(fields, identifier_fields=identifiers, memo=memo, inert=inert)
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
        if policy.detector.quiet(group, memo=memo, inert=inert):  # (the usual case: nothing to add)
            continue
        for f in policy.detector.scan(group, identifier_fields=identifiers, memo=memo, inert=inert):
            if (f.rule_id, f.term) not in seen:
                seen.add((f.rule_id, f.term))
                findings.append(f)
        if any(f.effect == "deny" for f in findings):
            break
    findings.sort(key=finding_order)
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
    signals: Sequence[str] = (),
) -> Decision:
    return Decision(
        outcome=outcome,
        reason=reason,
        rule_id=rule_id,
        tier=tier,
        hint=hint,
        message=message[:2048],
        policy_version=f"{policy.version}#{policy.digest}" if policy else "",
        limits=limits or {},
        signals=tuple(signals)[:MAX_SIGNALS],
    )


MAX_SIGNALS = 16
HINT_CHAINING = (
    "make one explicit, separate request per action: send this write alone, without steps, loops or "
    "follow-ups in its text (use explain_policy to check a request first)"
)
HINT_PATTERN = (
    "remove the destructive or bypass instruction from the write; the gateway runs read-only debugging calls "
    "and explicitly approved writes (use explain_policy to check a request first)"
)
HINT_READ_REVIEW = (
    "a human approver must accept this request; poll get_request_status. If you only meant to describe the "
    "problem, say what you want to read (e.g. 'show the 5xx errors of orders-api since 14:00')"
)


def _matched(f: Finding, how: str = "") -> str:
    """The matched phrase (a rule term, never the caller's text), its rule and where it was found."""
    where = "split across arguments" if f.field == JOINED_FIELD else f"in {f.field}"
    return f'matched "{f.term}" ({f.rule_id}) {where}{how}'


def _signal(f: Finding, note: str = "") -> str:
    return f"{f.rule_id}:{f.term}@{f.field}{note}"[:256]


def _finding_decision(policy: Policy, findings: Sequence[Finding], signals: Sequence[str] = ()) -> Decision | None:
    """A write's text is judged strictly: a deny rule's term anywhere in it denies."""
    for kind, effect, reason, hint in (
        ("chaining", "deny", ReasonCode.CHAINING_BLOCKED, HINT_CHAINING),
        ("pattern", "deny", ReasonCode.DANGEROUS_PATTERN, HINT_PATTERN),
    ):
        for f in findings:
            if f.kind == kind and f.effect == effect:
                return _decision(
                    policy, Outcome.DENY, reason, f.rule_id, hint=hint, message=_matched(f), signals=signals
                )
    return None


def _oversize_decision(policy: Policy, findings: Sequence[Finding]) -> Decision | None:
    for f in findings:
        if f.kind == "input" and f.effect == "deny":
            return _decision(
                policy,
                Outcome.DENY,
                ReasonCode.INVALID_INPUT,
                f.rule_id,
                hint="send less text: every field at most 64 KiB, at most 256 fields",
                message=f"input too large in {f.field}",
            )
    return None


def _read_scrutiny(
    policy: Policy, request: ActionRequest, findings: Sequence[Finding]
) -> tuple[Finding | None, str, list[str]]:
    """On a read-only call words are signals. Returns the finding that raises scrutiny (review) if any, how
    it was read, and the signals for the audit record. Words in data fields (filter pattern, key, query
    string) are data: ignored. See ``IntentSignals`` for the rules."""
    rules = policy.intent_signals
    signals: list[str] = []
    review: tuple[Finding, str] | None = None
    positions: Mapping[tuple[str, str], bool] | None = None
    values: dict[str, str] | None = None
    for f in findings:
        if f.kind == "input":
            continue
        if f.field not in ("intent", JOINED_FIELD) and _is_identifier_field(f.field, policy.data_fields_set):
            if values is None:
                values = scan_fields(request)
            if inert_on_read(policy, f.field, values.get(f.field, "")):
                continue  # data (a filter pattern, a query string) or a resource name, not instructions
            # prose in an identifier slot (a "prefix" with spaces): judged like an unknown parameter
        if f.field == "intent":
            if positions is None:
                positions = term_positions(policy.detector, request.intent)
            hit = (f.rule_id, f.term)
            obfuscated = hit not in positions
            instruction = positions.get(hit, False)
        else:  # an unknown parameter, or a payload split across arguments
            obfuscated = f.field == JOINED_FIELD
            instruction = True
        how = " after decoding or de-obfuscation" if obfuscated else (" as an instruction" if instruction else "")
        if f.rule_id in rules.signal_only:
            raises = obfuscated and f.field == "intent"
        elif f.rule_id in rules.always_review:
            raises = True
        else:
            raises = instruction or obfuscated
        signals.append(_signal(f, "!" if raises else ""))
        if raises and review is None:
            review = (f, how)
    if review is None and any(policy.sensitive(r) for r in request.resources):
        pattern = next((f for f in findings if f.kind == "pattern" and _signal(f) in signals), None)
        if pattern is not None:
            return pattern, " on a sensitive resource", signals
    if review is None:
        return None, "", signals
    return review[0], review[1], signals


# --- data-volume limits ------------------------------------------------------------------------------------
_BYTE_RANGE = re.compile(r"^bytes=(\d{0,15})-(\d{0,15})$")
# Actions whose parameters carry a log time range, and the unit of their startTime/endTime (per second).
LOG_RANGE_ACTIONS: dict[str, int] = {
    "logs:FilterLogEvents": 1000,
    "logs:GetLogEvents": 1000,
    "logs:StartQuery": 1,
}
OBJECT_READ_ACTIONS = frozenset({"s3:GetObject", "s3:GetObjectVersion"})
# Operations authorized as an object read that return no object body (metadata only): no byte limit applies.
BODYLESS_OPERATIONS = frozenset({"HeadObject", "GetObjectAttributes", "GetObjectTagging", "GetObjectAcl"})


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


def _object_read_hint(tool: str, max_bytes: int) -> str:
    """How to read less, in the calling tool's own arguments: ``call_aws`` passes GetObject's ``Range``."""
    if tool == "call_aws":
        return f'read at most {max_bytes} bytes per call (pass Range, e.g. "Range": "bytes=0-{max_bytes - 1}")'
    return f"read at most {max_bytes} bytes per call (use offset and max_bytes)"


def data_limit_decision(policy: Policy, request: ActionRequest, *, tier: Tier | None = None) -> Decision | None:
    """DENY DATA_LIMIT_EXCEEDED when one call asks for more data than the caller's limits allow, else None."""
    limits = policy.data_limits_for(request.principal.groups)
    action = request.action
    if action in OBJECT_READ_ACTIONS and request.operation not in BODYLESS_OPERATIONS:
        wanted = requested_object_bytes(request.parameters)
        if wanted is None or wanted > limits.max_object_bytes:
            return _decision(
                policy,
                Outcome.DENY,
                ReasonCode.DATA_LIMIT_EXCEEDED,
                "limit.max-object-bytes",
                tier=tier,
                hint=_object_read_hint(request.tool, limits.max_object_bytes),
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


def _request_session(policy: Policy, request: ActionRequest, session: SessionState | None) -> SessionState:
    return UNKNOWN_STATE if session is None else session


def evaluate(policy: Policy, request: ActionRequest, session: SessionState | None = None) -> Decision:
    """Decide one canonical request. Pure and deterministic.

    Risk comes from the action first: its access level (``access_level``), the resources it touches (allow
    patterns, ``sensitive_resources``) and the data volume it asks for (``data_limits``). The words of a
    read-only call are signals (``_read_scrutiny``); the words of a write are judged strictly. ``session`` is
    the caller's recent activity (``domain.session``); None when it is unknown (nothing is checked).
    """
    action = request.action
    groups = request.principal.groups

    rule = policy.deny_rule_for(action)
    if rule is not None:
        return _decision(
            policy,
            Outcome.DENY,
            ReasonCode.EXPLICIT_DENY,
            rule.id,
            hint="this action is never available through the gateway; use explain_policy to list the "
            "actions you may use",
            message=f"{action} is explicitly denied",
        )

    level = policy.access_level(action)
    write = level not in READ_ONLY_LEVELS
    findings = scan_request(policy, request, read_only=not write)
    oversize = _oversize_decision(policy, findings)
    if oversize is not None:
        return oversize
    text_review: Finding | None = None
    how = ""
    if write:
        signals = [_signal(f) for f in findings]
        blocked = _finding_decision(policy, findings, signals)
        if blocked is not None:
            return blocked
        text_review = next((f for f in findings if f.effect == "review"), None)
    else:
        text_review, how, signals = _read_scrutiny(policy, request, findings)

    allow_rules = policy.allow_rules_for_action(groups, action)
    review_listed = action in policy.review.actions
    tier = allow_rules[0].effective_tier if allow_rules else access_level_tier(action, policy.access_levels)

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
                signals=signals,
            )

    if allow_rules or review_listed:
        over = data_limit_decision(policy, request, tier=tier)
        if over is not None:
            return over.model_copy(update={"signals": tuple(signals)[:MAX_SIGNALS]})

    def review(rule_id: str, message: str, hint: str = HINT_READ_REVIEW) -> Decision:
        return _decision(
            policy, Outcome.REVIEW, ReasonCode.REVIEW_REQUIRED, rule_id, tier=tier, hint=hint, message=message,
            signals=signals,
        )  # fmt: skip

    if review_listed:
        return review(
            "review.action",
            f"{action} is on the policy's review list",
            "a human approver must accept this action; poll get_request_status",
        )
    if not allow_rules:
        return _decision(
            policy,
            Outcome.DENY,
            ReasonCode.NOT_ALLOWLISTED,
            "default.deny",
            tier=tier,
            hint="use explain_policy to list the actions you may use",
            message=f"{action} is not on the allowlist",
            signals=signals,
        )
    if text_review is not None:
        return review(text_review.rule_id, _matched(text_review, how))
    covering = [r for r in allow_rules if all(r.covers(res) for res in request.resources)] or allow_rules
    if write and level in policy.review.action_classes and not any(r.preapproved for r in covering):
        return review(
            "review.action-class",
            f"every {level} action goes to review unless a group rule pre-approves it",
            "a human approver must accept this write; poll get_request_status (writes a group pre-approves "
            "run without review)",
        )
    state = _request_session(policy, request, session)
    verdict, session_signals = session_verdict(
        policy.session, state, observe(request, policy.session, write=write), write=write
    )
    signals = [*signals, *session_signals]
    if verdict is not None:
        if verdict.throttle:
            return _decision(
                policy,
                Outcome.DENY,
                ReasonCode.THROTTLED,
                verdict.rule_id,
                tier=tier,
                hint=verdict.hint,
                message=f"behaviour: {verdict.behaviour}",
                signals=signals,
            )
        return review(verdict.rule_id, f"behaviour: {verdict.behaviour}", verdict.hint)
    return _decision(policy, Outcome.ALLOW, ReasonCode.ALLOWED, allow_rules[0].rule_id, tier=tier, signals=signals)


# --- explain -----------------------------------------------------------------------------------------------
class MatchedRule(StrictModel):
    """One rule that matched a request, whether or not it decided."""

    rule_id: str = Field(max_length=256)
    kind: Literal["deny", "detection", "resource", "data_limit", "review", "allow", "default", "session"]
    effect: Literal["deny", "review", "allow", "signal"]
    detail: str = Field(default="", max_length=512)


SESSION_NOT_REPLAYED = (
    "not replayed: this explanation does not read your session's recent activity (session.* rules: fan-out "
    "across buckets, objects and log groups, writes after untrusted reads); a real call can also be sent to "
    "review by them"
)


class Explanation(StrictModel):
    """``evaluate``'s decision for a request, the rules that matched it, and a hint toward a safer request."""

    decision: Decision
    matched: tuple[MatchedRule, ...] = ()
    hint: str = Field(default="", max_length=2048)
    allowed_actions: tuple[str, ...] = ()
    access_level: str = Field(default="", max_length=64)
    session: str = Field(default="", max_length=512)


def explain(policy: Policy, request: ActionRequest, session: SessionState | None = None) -> Explanation:
    """Would ``request`` be allowed, and why. The decision IS ``evaluate``'s (same outcome, reason, rule id,
    message and hint); ``matched`` lists every rule that applies, including those a higher-precedence rule
    overrode. ``session`` as for ``evaluate``: when None, the explanation says it did not replay it."""
    decision = evaluate(policy, request, session)
    action = request.action
    matched: list[MatchedRule] = []
    for rule in policy.deny:
        if rule.matches(action):
            matched.append(MatchedRule(rule_id=rule.id, kind="deny", effect="deny", detail=f"{action} matches"))
    write = policy.access_level(action) not in READ_ONLY_LEVELS
    findings = scan_request(policy, request, read_only=not write)
    if not write:  # the data fields' own findings, which the decision ignores, are listed as signals too
        fields = scan_fields(request)
        inert = inert_fields(policy, fields)
        if inert:
            own = policy.detector.scan(fields, identifier_fields=policy.identifier_fields)
            listed = [f for f in own if f.field in inert and f.kind != "input"]
            findings = sorted([*findings, *listed], key=finding_order)
    raised = {s.split(":", 1)[0] for s in decision.signals if s.endswith("!")}
    for f in findings:
        effect: Literal["deny", "review", "allow", "signal"] = f.effect
        if not write:
            effect = "review" if f.rule_id in raised or f.rule_id == decision.rule_id else "signal"
        matched.append(
            MatchedRule(rule_id=f.rule_id, kind="detection", effect=effect, detail=f'"{f.term}" in {f.field}')
        )
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
    if decision.rule_id == "review.action-class":
        matched.append(MatchedRule(rule_id="review.action-class", kind="review", effect="review", detail=action))
    if decision.rule_id.startswith("session."):
        matched.append(
            MatchedRule(rule_id=decision.rule_id, kind="session", effect="review", detail=decision.message[:512])
        )
    if allow_rules or action in policy.review.actions:
        over = data_limit_decision(policy, request)
        if over is not None:
            matched.append(MatchedRule(rule_id=over.rule_id, kind="data_limit", effect="deny", detail=over.message))
    if decision.rule_id not in {m.rule_id for m in matched}:
        matched.append(MatchedRule(rule_id=decision.rule_id, kind="default", effect="deny", detail=decision.message))
    allowed = tuple(policy.allowed_actions_for(request.principal.groups))
    hint = decision.hint
    if decision.reason is ReasonCode.NOT_ALLOWLISTED:
        hint = f"{hint}; actions you may use: {', '.join(allowed)}"[:2048]
    elif decision.reason is ReasonCode.RESOURCE_NOT_ALLOWED:
        patterns = sorted({p for r in allow_rules for p in r.resources})
        hint = f"{action} is allowed on: {', '.join(patterns)}"[:2048]
    elif decision.outcome is Outcome.ALLOW:
        hint = "this request would be allowed (rate limits and data budgets still apply)"
    return Explanation(
        decision=decision,
        matched=tuple(matched),
        hint=hint,
        allowed_actions=allowed,
        access_level=policy.access_level(action),
        session="replayed" if session is not None and session.known else SESSION_NOT_REPLAYED,
    )


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
    "SESSION_NOT_REPLAYED",
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
    "access_level",
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
