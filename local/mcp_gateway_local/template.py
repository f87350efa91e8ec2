"""Read template.yaml (CloudFormation short-form tags included) and resolve intrinsic functions for the local
stack. The local stack is provisioned from this one file, never from a hand-written second copy."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


#: libyaml's parser under the safe constructors when PyYAML has it (its wheels do): the same documents, a tenth of
#: the time (template.yaml: ~0.27 s in pure Python, read at every stack start and by the audit CLI).
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[misc,valid-type]  # a base chosen at import
    pass


def _tag(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _short in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(_short))
for _short in (
    "GetAtt",
    "Sub",
    "If",
    "Not",
    "Equals",
    "And",
    "Or",
    "Select",
    "GetAZs",
    "Join",
    "Split",
    "FindInMap",
    "ImportValue",
    "Base64",
    "Cidr",
):
    _CfnLoader.add_constructor(f"!{_short}", _tag(f"Fn::{_short}"))


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return data


# The pseudo-parameters the local stack knows (CloudFormation's full list less AWS::NotificationARNs, which the
# template does not use). A reference to any other AWS:: name is an error.
PSEUDO_PARAMETERS = (
    "AWS::NoValue",
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
)


def pseudo_parameters(*, stack_name: str, region: str, account: str, partition: str = "aws") -> dict[str, str]:
    """The local values of every pseudo-parameter in PSEUDO_PARAMETERS (the local stack runs in partition aws)."""
    return {
        "AWS::NoValue": NO_VALUE,
        "AWS::AccountId": account,
        "AWS::Partition": partition,
        "AWS::Region": region,
        "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/local",
        "AWS::StackName": stack_name,
        "AWS::URLSuffix": "amazonaws.com",
    }


#: What ``Ref: AWS::NoValue`` resolves to: the property (or list element) holding it is removed.
NO_VALUE = "\x00AWS::NoValue"


class UnresolvedReferenceError(LookupError):
    """A Ref / Fn::GetAtt / Fn::Sub variable (or an intrinsic function) the local stack cannot resolve: a name that
    is neither a pseudo-parameter, a parameter with a value, nor a resource the local stack has provisioned."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"template.yaml: cannot resolve {kind} {name!r} locally")
        self.kind = kind  # "Ref", "Fn::GetAtt", "Fn::Sub", "Parameter", "Pseudo" or the intrinsic's name
        self.name = name


class Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Sub / Fn::If ... against local physical ids.

    It knows exactly: the pseudo-parameters given (each one of PSEUDO_PARAMETERS), the template's parameters (the
    values given, else their Default), and the resources registered in ``refs`` (their Ref) and ``attrs``
    (``(logical, attribute)``) by the local stack as it provisions them. Anything else raises
    UnresolvedReferenceError instead of inventing a value."""

    def __init__(self, template: dict[str, Any], params: dict[str, Any], pseudo: dict[str, str]) -> None:
        self.template = template
        declared = template.get("Parameters") or {}
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise UnresolvedReferenceError("Parameter", unknown[0])
        unknown = sorted(set(pseudo) - set(PSEUDO_PARAMETERS))
        if unknown:
            raise UnresolvedReferenceError("Pseudo", unknown[0])
        self.params = {name: params.get(name, spec.get("Default")) for name, spec in declared.items()}
        self.pseudo = dict(pseudo)
        self.refs: dict[str, Any] = {}
        self.attrs: dict[tuple[str, str], Any] = {}
        self._intrinsics = self._functions()

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise UnresolvedReferenceError("Condition", name)
        return bool(self.resolve(conditions[name]))

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params and self.params[name] is not None:
            return self.params[name]
        if name in self.refs:
            return self.refs[name]
        raise UnresolvedReferenceError("Ref", name)

    def attr(self, logical: str, attribute: str) -> Any:
        if (logical, attribute) in self.attrs:
            return self.attrs[(logical, attribute)]
        raise UnresolvedReferenceError("Fn::GetAtt", f"{logical}.{attribute}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v != NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            function = self._intrinsics.get(key)
            if function is not None:
                return function(arg)
            if key.startswith("Fn::"):
                raise UnresolvedReferenceError(key, arg if isinstance(arg, str) else repr(arg)[:80])
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v != NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        """The intrinsic functions the local stack evaluates; any other Fn:: raises."""
        return {
            "Ref": self.ref,
            "Condition": self.condition,
            "Fn::GetAtt": lambda arg: self.attr(*(arg if isinstance(arg, list) else arg.split(".", 1))),
            "Fn::Sub": self._fn_sub,
            "Fn::If": lambda arg: self.resolve(arg[1] if self.condition(arg[0]) else arg[2]),
            "Fn::Not": lambda arg: not self.resolve(arg[0]),
            "Fn::And": lambda arg: all(self.resolve(v) for v in arg),
            "Fn::Or": lambda arg: any(self.resolve(v) for v in arg),
            "Fn::Equals": lambda arg: self.resolve(arg[0]) == self.resolve(arg[1]),
            "Fn::Select": lambda arg: self.resolve(arg[1])[int(self.resolve(arg[0]))],
            "Fn::GetAZs": lambda _arg: [f"{self.ref('AWS::Region')}{zone}" for zone in "abc"],
            "Fn::Join": lambda arg: str(arg[0]).join(str(v) for v in self.resolve(arg[1])),
            "Fn::Split": lambda arg: str(self.resolve(arg[1])).split(str(arg[0])),
        }

    def _fn_sub(self, arg: Any) -> str:
        template, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
        return self._sub(template, extra)

    def _sub(self, template: str, extra: dict[str, Any]) -> str:
        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is the literal ${Literal}
            if name in extra:
                return str(extra[name])
            try:
                if "." in name:
                    logical, attribute = name.split(".", 1)
                    return str(self.attr(logical, attribute))
                return str(self.ref(name))
            except UnresolvedReferenceError:
                raise UnresolvedReferenceError("Fn::Sub", name) from None

        return re.sub(r"\$\{([^}]+)\}", repl, template)
