"""KMS envelope for the IdP refresh tokens the gateway keeps (never logged, never stored in the clear).

Each ciphertext is bound by an encryption context (purpose + refresh family), so a ciphertext copied into
another family's record does not decrypt there."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any


class KmsSecretBox:
    def __init__(self, kms: Any, key_id: str) -> None:
        self.kms = kms
        self.key_id = key_id

    def seal(self, plaintext: str, context: Mapping[str, str]) -> str:
        blob = self.kms.encrypt(
            KeyId=self.key_id, Plaintext=plaintext.encode("utf-8"), EncryptionContext=dict(context)
        )["CiphertextBlob"]
        return base64.b64encode(blob).decode("ascii")

    def unseal(self, ciphertext: str, context: Mapping[str, str]) -> str:
        plain = self.kms.decrypt(
            KeyId=self.key_id, CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext=dict(context)
        )["Plaintext"]
        return bytes(plain).decode("utf-8")
