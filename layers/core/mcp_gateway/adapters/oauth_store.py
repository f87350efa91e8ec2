"""DynamoDB state of the authorization server (one table, ``OAuthTable``: KMS-encrypted, TTL, PITR).

Items, all under the hash key ``pk`` (secrets are never stored: codes, refresh tokens and state values appear
only as keyed hashes):

- ``pending#<hash(state)>``  an /authorize request parked while the browser is at the IdP (10 min)
- ``code#<hash(code)>``      a single-use authorization code (60 s); redeemed with a conditional update
- ``family#<id>``            a sign-in session (refresh-token family), ``user_email`` indexed (``by-user``)
- ``refresh#<hash(token)>``  which family a refresh token (current or rotated) belongs to
- ``revoked#<email>``        per-user revocation marker checked on every /mcp call
- ``once#<hash>``            replay guard (ID-JAG ``jti``)
- ``client#<client_id>``     a dynamically registered client

Every item carries ``expires_at`` (epoch seconds, the TTL attribute); reads re-check it because DynamoDB
deletes expired items lazily.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from ..domain.oauth import ClientRecord, CodeGrant, PendingAuthorization, RefreshFamily
from ..domain.oauth_ports import StoreConflict
from .aws import error_code

USER_INDEX = "by-user"


class OAuthStore:
    def __init__(self, ddb: Any, table: str, clock: Any = time.time) -> None:
        self.ddb = ddb
        self.table = table
        self.clock = clock

    # --- helpers ------------------------------------------------------------------------------------------
    def _put(self, pk: str, record: str, expires_at: int, condition_new: bool = True, **extra: str) -> None:
        item: dict[str, Any] = {
            "pk": {"S": pk},
            "record": {"S": record},
            "expires_at": {"N": str(int(expires_at))},
        }
        for key, value in extra.items():
            item[key] = {"S": value}
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": item}
        if condition_new:
            kwargs["ConditionExpression"] = "attribute_not_exists(pk)"
        try:
            self.ddb.put_item(**kwargs)
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise StoreConflict(pk.split("#", 1)[0]) from None
            raise

    def _get(self, pk: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")
        if not item or int(item.get("expires_at", {}).get("N", "0")) <= self.clock():
            return None
        return dict(item)

    # --- pending authorizations -------------------------------------------------------------------------
    def put_pending(self, state_hash: str, pending: PendingAuthorization) -> None:
        self._put(f"pending#{state_hash}", pending.model_dump_json(), pending.expires_at)

    def take_pending(self, state_hash: str) -> PendingAuthorization | None:
        old = self.ddb.delete_item(
            TableName=self.table, Key={"pk": {"S": f"pending#{state_hash}"}}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        if not old or int(old["expires_at"]["N"]) <= self.clock():
            return None
        return PendingAuthorization.model_validate_json(old["record"]["S"])

    # --- codes ---------------------------------------------------------------------------------------------
    def put_code(self, code_hash: str, grant: CodeGrant) -> None:
        self._put(f"code#{code_hash}", grant.model_dump_json(), grant.expires_at + 300)

    def take_code(self, code_hash: str) -> tuple[CodeGrant | None, bool]:
        key = {"pk": {"S": f"code#{code_hash}"}}
        try:
            item = self.ddb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET used_at = :now",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(used_at)",
                ExpressionAttributeValues={":now": {"N": str(int(self.clock()))}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
            return CodeGrant.model_validate_json(item["record"]["S"]), True
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        item = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        if not item:
            return None, False
        return CodeGrant.model_validate_json(item["record"]["S"]), False

    # --- refresh families ------------------------------------------------------------------------------
    def _family_item(self, family: RefreshFamily) -> dict[str, Any]:
        return {
            "pk": {"S": f"family#{family.family_id}"},
            "record": {"S": family.model_dump_json()},
            "expires_at": {"N": str(int(family.absolute_expires_at + 86_400))},
            "user_email": {"S": family.email.lower()},
            "current_hash": {"S": family.current_hash},
            "revoked": {"BOOL": family.revoked},
        }

    def put_family(self, family: RefreshFamily, refresh_hash: str) -> None:
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item=self._family_item(family),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise StoreConflict("family") from None
            raise
        self._put(
            f"refresh#{refresh_hash}", json.dumps({"family_id": family.family_id}), family.absolute_expires_at + 86_400
        )

    def get_family(self, family_id: str) -> RefreshFamily | None:
        item = self._get(f"family#{family_id}")
        return RefreshFamily.model_validate_json(item["record"]["S"]) if item else None

    def family_for_refresh(self, refresh_hash: str) -> RefreshFamily | None:
        item = self._get(f"refresh#{refresh_hash}")
        if not item:
            return None
        return self.get_family(str(json.loads(item["record"]["S"])["family_id"]))

    def rotate(self, family: RefreshFamily, old_hash: str, new_hash: str, updates: Mapping[str, Any]) -> None:
        rotated = RefreshFamily.model_validate({**family.model_dump(), **dict(updates), "current_hash": new_hash})
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item=self._family_item(rotated),
                ConditionExpression="current_hash = :old AND #rv = :no",
                ExpressionAttributeNames={"#rv": "revoked"},
                ExpressionAttributeValues={":old": {"S": old_hash}, ":no": {"BOOL": False}},
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise StoreConflict("family") from None
            raise
        self._put(
            f"refresh#{new_hash}", json.dumps({"family_id": family.family_id}), family.absolute_expires_at + 86_400
        )

    def revoke_family(self, family_id: str, reason: str) -> None:
        family = self.get_family(family_id)
        if family is None or family.revoked:
            return
        revoked = family.model_copy(
            update={"revoked": True, "revoked_reason": reason[:64], "idp_refresh_ciphertext": ""}
        )
        self.ddb.put_item(TableName=self.table, Item=self._family_item(revoked))

    def families_for_user(self, email: str) -> list[RefreshFamily]:
        out: list[RefreshFamily] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "user_email = :e",
            "ExpressionAttributeValues": {":e": {"S": email.lower()}},
        }
        while True:
            page = self.ddb.query(**kwargs)
            for item in page.get("Items", []):
                if item["pk"]["S"].startswith("family#"):
                    out.append(RefreshFamily.model_validate_json(item["record"]["S"]))
            if "LastEvaluatedKey" not in page:
                return sorted(out, key=lambda f: f.started_at)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- per-user revocation marker --------------------------------------------------------------------
    def put_user_revocation(self, email: str, revoked_at: int, keep_until: int) -> None:
        self._put(f"revoked#{email.lower()}", json.dumps({"revoked_at": revoked_at}), keep_until, condition_new=False)

    def user_revoked_at(self, email: str) -> int | None:
        item = self._get(f"revoked#{email.lower()}")
        return int(json.loads(item["record"]["S"])["revoked_at"]) if item else None

    # --- replay guard and registered clients ---------------------------------------------------------
    def remember_once(self, key_hash: str, until: int) -> bool:
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item={"pk": {"S": f"once#{key_hash}"}, "record": {"S": "{}"}, "expires_at": {"N": str(int(until))}},
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(int(self.clock()))}},
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def put_client(self, client: ClientRecord, expires_at: int) -> None:
        self._put(f"client#{client.client_id}", client.model_dump_json(), expires_at)

    def get_client(self, client_id: str) -> ClientRecord | None:
        item = self._get(f"client#{client_id}")
        return ClientRecord.model_validate_json(item["record"]["S"]) if item else None
