"""The sealed raw parameters of a request (see ``domain/sealing.py``): a KMS envelope (a data key from
``GenerateDataKey``, AES-256-GCM over the compressed JSON) in the approvals table under ``sealed#<request id>``,
with a TTL. The encryption context binds each ciphertext to its request id, so a sealed item copied under
another request does not open there. Written once by the gateway before the workflow starts; read by
Validate and Execute."""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..domain.errors import GatewayError, ReasonCode

PREFIX = "sealed#"
PURPOSE = "request-parameters"


class SealError(GatewayError):
    code = ReasonCode.WORKFLOW_ERROR


def _context(request_id: str) -> dict[str, str]:
    return {"purpose": PURPOSE, "request_id": request_id}


class ParameterVault:
    def __init__(
        self,
        ddb: Any,
        kms: Any,
        table: str,
        key_id: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ddb = ddb
        self.kms = kms
        self.table = table
        self.key_id = key_id
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def seal(self, request_id: str, raw: dict[str, Any]) -> None:
        """Store ``raw`` for ``request_id`` (an existing seal of the same id is kept: a retried start of the
        same request carries the same values)."""
        key = self.kms.generate_data_key(KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=_context(request_id))
        nonce = os.urandom(12)
        plain = zlib.compress(json.dumps(raw, separators=(",", ":"), default=str).encode("utf-8"))
        sealed = AESGCM(bytes(key["Plaintext"])).encrypt(nonce, plain, request_id.encode("utf-8"))
        item = {
            "pk": {"S": PREFIX + request_id},
            "edk": {"B": bytes(key["CiphertextBlob"])},
            "nonce": {"B": nonce},
            "ct": {"B": sealed},
            "expires_at": {"N": str(int(self.clock()) + self.ttl_seconds)},
        }
        try:
            self.ddb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code != "ConditionalCheckFailedException":
                raise

    def open(self, request_id: str) -> dict[str, Any]:
        """The raw values sealed for ``request_id``. Raises SealError when there is none (expired, never
        sealed) or it does not open (tampered, another request's)."""
        item = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": PREFIX + request_id}}, ConsistentRead=True).get(
            "Item"
        )
        if not item:
            raise SealError("the request's sealed parameters are gone (expired or never stored)")
        try:
            key = self.kms.decrypt(CiphertextBlob=bytes(item["edk"]["B"]), EncryptionContext=_context(request_id))
            plain = AESGCM(bytes(key["Plaintext"])).decrypt(
                bytes(item["nonce"]["B"]), bytes(item["ct"]["B"]), request_id.encode("utf-8")
            )
            value = json.loads(zlib.decompress(plain))
        except Exception:  # noqa: BLE001 - any failure to open is the same answer: no raw values
            raise SealError("the request's sealed parameters do not open") from None
        if not isinstance(value, dict):
            raise SealError("the request's sealed parameters are not an object")
        return value
