"""DynamoDB's typed attribute values (``{"S": ...}``, ``{"N": ...}``) in one place: boto3's ``TypeSerializer``
and ``TypeDeserializer``, so no module hand-writes them. Numbers come back as ``Decimal``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def to_attribute(value: Any) -> dict[str, Any]:
    attribute: dict[str, Any] = _SERIALIZER.serialize(value)
    return attribute


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    return _DESERIALIZER.deserialize(dict(attribute))


def to_item(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: to_attribute(value) for name, value in values.items()}


def from_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: from_attribute(attribute) for name, attribute in item.items()}
