"""What CloudFormation checks before it creates anything, done locally: parameter constraints (AllowedValues,
AllowedPattern, MinLength/MaxLength, MinValue/MaxValue, Number type) and the template's ``Rules`` assertions.

Used by the local stack (it refuses parameters a real deploy would refuse) and by the docs test (every
``--parameter-overrides`` in README.md and docs/ is checked against template.yaml)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Placeholder values a deploy command in the docs may carry (``IdpIssuer=https://<org>.okta.com/...``): they are
#: checked for the parameter's existence, never against its pattern.
_PLACEHOLDER = re.compile(r"<[^>]+>|\$\{?[A-Z_]+\}?|\.\.\.")


class DeployRefused(ValueError):
    """CloudFormation would refuse these parameters (one message per failed check)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parameter_problems(template: Mapping[str, Any], overrides: Mapping[str, str]) -> list[str]:
    """Each override that names no parameter or breaks its constraints."""
    declared: Mapping[str, Any] = template.get("Parameters") or {}
    problems: list[str] = []
    for name, value in overrides.items():
        spec = declared.get(name)
        if spec is None:
            problems.append(f"{name}: not a parameter of template.yaml")
            continue
        if _PLACEHOLDER.search(value):
            continue
        problem = _constraint_problem(spec, value)
        if problem:
            problems.append(f"{name}={value}: {problem}")
    return problems


def _constraint_problem(spec: Mapping[str, Any], value: str) -> str | None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in {str(v) for v in allowed}:
        return f"not one of the AllowedValues {[str(v) for v in allowed]}"
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return "not a Number"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return f"below MinValue {spec['MinValue']}"
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return f"above MaxValue {spec['MaxValue']}"
        return None
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return f"shorter than MinLength {spec['MinLength']}"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return f"longer than MaxLength {spec['MaxLength']}"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and spec.get("Type", "String") == "String" and not re.fullmatch(pattern, value):
        return f"does not match the AllowedPattern {pattern!r}"
    return None


def effective_parameters(template: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, str]:
    """Every parameter's value as CloudFormation sees it in Rules: the given value, else the Default (strings)."""
    declared: Mapping[str, Any] = template.get("Parameters") or {}
    values: dict[str, str] = {}
    for name, spec in declared.items():
        value = given.get(name, spec.get("Default"))
        if value is not None:
            values[name] = str(value)
    return values


def rule_problems(template: Mapping[str, Any], params: Mapping[str, str]) -> list[str]:
    """The AssertDescription of every ``Rules`` assertion that fails for these parameter values."""
    problems: list[str] = []
    for name, rule in (template.get("Rules") or {}).items():
        condition = rule.get("RuleCondition")
        if condition is not None and not _evaluate(condition, params):
            continue
        for assertion in rule.get("Assertions") or []:
            if not _evaluate(assertion["Assert"], params):
                problems.append(f"rule {name}: {assertion.get('AssertDescription', 'assertion failed')}")
    return problems


def check_deploy(template: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """Raise DeployRefused when CloudFormation would refuse to deploy with these parameters."""
    declared: Mapping[str, Any] = template.get("Parameters") or {}
    problems = parameter_problems(template, {k: str(v) for k, v in given.items()})
    params = effective_parameters(template, given)
    problems += [f"{name}: required (no Default)" for name in declared if name not in params]
    problems += rule_problems(template, params)
    if problems:
        raise DeployRefused(problems)


def check_rules(template: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """Raise DeployRefused when a ``Rules`` assertion fails (the local stack: its loopback IdP is plain HTTP, so
    the https patterns of the IdP parameters do not apply to it, but the Rules do)."""
    problems = rule_problems(template, effective_parameters(template, given))
    if problems:
        raise DeployRefused(problems)


def _evaluate(expression: Any, params: Mapping[str, str]) -> Any:
    """The rule-specific intrinsic functions CloudFormation allows in Rules (Ref to parameters included)."""
    if isinstance(expression, bool) or not isinstance(expression, dict | int | float):
        return expression
    if not isinstance(expression, dict):
        return str(expression)  # CloudFormation compares parameter values as strings
    if len(expression) == 1:
        ((key, arg),) = expression.items()
        if key == "Ref":
            if arg not in params:
                raise KeyError(f"Rules: Ref to unknown parameter {arg!r}")
            return params[arg]
        if key == "Fn::Equals":
            return str(_evaluate(arg[0], params)) == str(_evaluate(arg[1], params))
        if key == "Fn::Not":
            return not _evaluate(arg[0], params)
        if key == "Fn::And":
            return all(_evaluate(v, params) for v in arg)
        if key == "Fn::Or":
            return any(_evaluate(v, params) for v in arg)
        if key == "Fn::Contains":
            return str(_evaluate(arg[1], params)) in [str(_evaluate(v, params)) for v in arg[0]]
        if key == "Fn::EachMemberEquals":
            return all(str(v) == str(_evaluate(arg[1], params)) for v in _evaluate(arg[0], params))
        if key == "Fn::Split":
            return str(_evaluate(arg[1], params)).split(str(arg[0]))
    raise ValueError(f"Rules: unsupported expression {expression!r:.80}")
