"""The local stack reads template.yaml through libyaml's parser (local/mcp_gateway_local/template.py) when PyYAML
has it: what it reads is exactly what the pure-Python parser reads, short-form tags included."""

from __future__ import annotations

import yaml
from mcp_gateway_local import template


def _pure_python_loader() -> type[yaml.SafeLoader]:
    class PureCfnLoader(yaml.SafeLoader):
        pass

    for tag, construct in template._CfnLoader.yaml_constructors.items():
        if tag is not None and tag.startswith("!"):
            PureCfnLoader.add_constructor(tag, construct)
    return PureCfnLoader


def test_the_template_read_by_the_local_loader_is_the_template_the_pure_python_parser_reads() -> None:
    text = template.TEMPLATE.read_text(encoding="utf-8")
    pure = yaml.load(text, Loader=_pure_python_loader())
    assert template.load_template() == pure
    assert pure["Resources"] and pure["Parameters"]


def test_the_local_loader_reads_every_short_form_tag_as_its_long_form() -> None:
    text = 'a: !Ref X\nb: !GetAtt R.Arn\nc: !Sub ["${A}", {A: !Ref Y}]\nd: !If [C, 1, 2]\n'
    expected = {
        "a": {"Ref": "X"},
        "b": {"Fn::GetAtt": ["R", "Arn"]},
        "c": {"Fn::Sub": ["${A}", {"A": {"Ref": "Y"}}]},
        "d": {"Fn::If": ["C", 1, 2]},
    }
    assert yaml.load(text, Loader=template._CfnLoader) == expected
    assert yaml.load(text, Loader=_pure_python_loader()) == expected


def test_the_local_loader_uses_libyaml_when_pyyaml_has_it() -> None:
    if getattr(yaml, "__with_libyaml__", False):
        assert issubclass(template._CfnLoader, yaml.CSafeLoader)
    else:
        assert issubclass(template._CfnLoader, yaml.SafeLoader)
