"""The tamper-evident audit hash chain: linking, canonical form, and detection of each kind of tampering."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from enum import IntEnum
from typing import Any

import pytest
from mcp_gateway.domain.audit_chain import (
    GENESIS,
    canonical_json,
    link,
    record_hash,
    verify_chain,
)
from mcp_gateway.domain.errors import InvalidInputError, ReasonCode

DAYS = ("2024-05-01", "2024-05-02", "2024-05-03")


def _event(day: str, i: int) -> dict[str, Any]:
    return {
        "request_id": f"req_{day.replace('-', '')}_{i:04d}",
        "user": "dev@example.com",
        "action": "s3:GetObject",
        "outcome": "ALLOW" if i % 3 else "DENY",
        "reason": "ALLOWED",
        "resources": ("arn:aws:s3:::demo/a.txt",),
        "latency_ms": 12.5 + i,
        "bytes_out": 1024 * i,
        "at": 1_714_521_600.123 + i,
        "note": "héllo ✓",
    }


def _chain(day: str, n: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    for i in range(1, n + 1):
        prev = link(prev, _event(day, i), day)
        records.append(prev)
    return records


def _kinds(issues: list[Any]) -> list[tuple[str, int, str]]:
    return [(i.chain_day, i.seq, i.kind) for i in issues]


def _heads(records: list[dict[str, Any]]) -> dict[str, tuple[int, str]]:
    heads: dict[str, tuple[int, str]] = {}
    for r in records:
        if r["chain_day"] not in heads or r["seq"] > heads[r["chain_day"]][0]:
            heads[r["chain_day"]] = (r["seq"], r["record_hash"])
    return heads


@pytest.fixture
def three_days() -> list[dict[str, Any]]:
    return [r for day in DAYS for r in _chain(day, 5)]


# --------------------------------------------------------------------------------------------------
# Linking and canonical form
# --------------------------------------------------------------------------------------------------


def test_link_starts_each_day_at_seq_one_from_genesis() -> None:
    first = link(None, {"request_id": "r1"}, "2024-05-01")
    assert first["seq"] == 1 and first["prev_hash"] == GENESIS and first["chain_day"] == "2024-05-01"
    assert first["record_hash"] == record_hash(GENESIS, first)


def test_link_chains_each_record_to_the_previous_hash() -> None:
    a = link(None, {"n": 1}, "2024-05-01")
    b = link(a, {"n": 2}, "2024-05-01")
    assert b["seq"] == 2 and b["prev_hash"] == a["record_hash"]
    assert b["record_hash"] == record_hash(a["record_hash"], b)


def test_link_does_not_mutate_its_input() -> None:
    event = {"n": 1}
    link(None, event, "2024-05-01")
    assert event == {"n": 1}


@pytest.mark.parametrize(
    ("prev", "record", "day"),
    [
        (None, {"seq": 3}, "2024-05-01"),
        (None, {"record_hash": GENESIS}, "2024-05-01"),
        (None, {"prev_hash": GENESIS}, "2024-05-01"),
        (None, {"chain_day": "2024-05-02"}, "2024-05-01"),
        (None, {}, "yesterday"),
        ({"chain_day": "2024-04-30", "seq": 9, "record_hash": GENESIS}, {}, "2024-05-01"),
        ({"chain_day": "2024-05-01", "seq": "9", "record_hash": GENESIS}, {}, "2024-05-01"),
        ({"chain_day": "2024-05-01", "seq": 9, "record_hash": "nothex"}, {}, "2024-05-01"),
        (None, {"x": float("nan")}, "2024-05-01"),
    ],
)
def test_link_refuses_inconsistent_input(prev: Any, record: dict[str, Any], day: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        link(prev, record, day)
    assert exc.value.code is ReasonCode.INVALID_INPUT


def test_link_accepts_a_head_read_back_from_dynamodb() -> None:
    a = link(None, {"n": 1}, "2024-05-01")
    from_ddb = {**a, "seq": Decimal(1)}
    assert link(from_ddb, {"n": 2}, "2024-05-01")["seq"] == 2


def test_canonical_json_is_sorted_compact_utf8_and_excludes_record_hash() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "é"], "record_hash": "x"}) == (
        '{"a":[true,null,"é"],"b":1}'.encode()
    )


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), Decimal("NaN"), b"x", {1}])
def test_canonical_json_rejects_non_json_values(bad: Any) -> None:
    with pytest.raises(InvalidInputError):
        canonical_json({"x": bad})


def test_canonical_json_rejects_non_string_keys() -> None:
    with pytest.raises(InvalidInputError):
        canonical_json({"x": {1: "a"}})


def test_canonical_json_treats_numbers_as_decimal_values() -> None:
    assert canonical_json({"a": 3.0, "b": Decimal("3"), "c": 3}) == b'{"a":3,"b":3,"c":3}'
    assert canonical_json({"a": 1e-07, "b": Decimal("1E-7")}) == b'{"a":0.0000001,"b":0.0000001}'
    assert canonical_json({"a": 0.1}) == canonical_json({"a": Decimal("0.10")})


def test_a_chain_survives_a_dynamodb_round_trip(three_days: list[dict[str, Any]]) -> None:
    round_tripped = [json.loads(json.dumps(r), parse_float=Decimal, parse_int=Decimal) for r in three_days]
    assert verify_chain(round_tripped) == []


# --------------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------------


def test_a_clean_chain_of_three_days_verifies(three_days: list[dict[str, Any]]) -> None:
    assert verify_chain(three_days) == []
    assert verify_chain(three_days, heads=_heads(three_days)) == []


def test_records_given_in_any_order_verify(three_days: list[dict[str, Any]]) -> None:
    shuffled = list(three_days)
    random.Random(7).shuffle(shuffled)
    assert verify_chain(shuffled, heads=_heads(three_days)) == []


def test_an_empty_input_verifies() -> None:
    assert verify_chain([]) == []


@pytest.mark.parametrize(("field", "value"), [("outcome", "FORGED"), ("user", "x@example.com"), ("latency_ms", 0)])
def test_a_single_edited_field_is_caught_as_edited(three_days: list[dict[str, Any]], field: str, value: Any) -> None:
    target = three_days[2]  # day 1, seq 3
    assert target[field] != value
    three_days[2] = {**target, field: value}
    issues = verify_chain(three_days)
    assert _kinds(issues) == [(DAYS[0], 3, "edited")]
    assert issues[0].request_id == target["request_id"]


def test_a_record_moved_to_another_day_is_edited_there_and_missing_here(
    three_days: list[dict[str, Any]],
) -> None:
    three_days[2] = {**three_days[2], "chain_day": DAYS[1]}
    assert _kinds(verify_chain(three_days)) == [(DAYS[0], 3, "deleted"), (DAYS[1], 3, "edited")]


def test_an_added_field_is_caught_as_edited(three_days: list[dict[str, Any]]) -> None:
    three_days[6] = {**three_days[6], "approved_by": "me"}
    assert _kinds(verify_chain(three_days)) == [(DAYS[1], 2, "edited")]


def test_an_overwritten_record_hash_is_caught_as_edited(three_days: list[dict[str, Any]]) -> None:
    three_days[1] = {**three_days[1], "record_hash": "f" * 64}
    assert _kinds(verify_chain(three_days)) == [(DAYS[0], 2, "edited")]


def test_a_rewritten_record_with_a_recomputed_hash_breaks_the_next_link(
    three_days: list[dict[str, Any]],
) -> None:
    forged = {k: v for k, v in three_days[1].items() if k != "record_hash"}
    forged["outcome"] = "FORGED"
    forged["record_hash"] = record_hash(forged["prev_hash"], forged)
    three_days[1] = forged
    assert _kinds(verify_chain(three_days)) == [(DAYS[0], 3, "edited")]


def test_a_deleted_middle_record_is_caught_as_deleted(three_days: list[dict[str, Any]]) -> None:
    del three_days[2]  # day 1, seq 3
    assert _kinds(verify_chain(three_days)) == [(DAYS[0], 3, "deleted")]


def test_several_deleted_records_are_one_deleted_issue(three_days: list[dict[str, Any]]) -> None:
    del three_days[1:4]  # day 1, seqs 2..4
    issues = verify_chain(three_days)
    assert _kinds(issues) == [(DAYS[0], 2, "deleted")]


def test_a_deleted_first_record_is_caught_as_deleted(three_days: list[dict[str, Any]]) -> None:
    del three_days[5]  # day 2, seq 1
    assert _kinds(verify_chain(three_days)) == [(DAYS[1], 1, "deleted")]


def test_a_reordered_pair_is_caught_as_reordered(three_days: list[dict[str, Any]]) -> None:
    a, b = three_days[1], three_days[2]  # day 1, seqs 2 and 3: swap their seq numbers
    three_days[1], three_days[2] = {**a, "seq": 3}, {**b, "seq": 2}
    assert _kinds(verify_chain(three_days)) == [(DAYS[0], 2, "reordered"), (DAYS[0], 3, "reordered")]


def test_a_record_moved_to_the_end_is_caught_as_reordered(three_days: list[dict[str, Any]]) -> None:
    day = [r for r in three_days if r["chain_day"] == DAYS[2]]
    # Rotate seqs 2..5: the record written as seq 2 now claims seq 5, the others move up by one.
    moved = [
        {**day[0]},
        {**day[2], "seq": 2},
        {**day[3], "seq": 3},
        {**day[4], "seq": 4},
        {**day[1], "seq": 5},
    ]
    issues = verify_chain(moved)
    assert {i.kind for i in issues} == {"reordered"}
    assert [i.seq for i in issues] == [2, 3, 4, 5]


def test_a_deleted_tail_needs_the_head_to_be_caught(three_days: list[dict[str, Any]]) -> None:
    heads = _heads(three_days)
    truncated = [r for r in three_days if not (r["chain_day"] == DAYS[2] and r["seq"] >= 4)]
    assert verify_chain(truncated) == []  # undetectable from the records alone, by design
    assert _kinds(verify_chain(truncated, heads=heads)) == [(DAYS[2], 4, "deleted")]


def test_a_whole_deleted_day_is_caught_with_heads(three_days: list[dict[str, Any]]) -> None:
    heads = _heads(three_days)
    remaining = [r for r in three_days if r["chain_day"] != DAYS[1]]
    assert _kinds(verify_chain(remaining, heads=heads)) == [(DAYS[1], 1, "deleted")]


def test_a_tail_replaced_by_a_forgery_is_caught_with_heads(three_days: list[dict[str, Any]]) -> None:
    heads = _heads(three_days)
    last = three_days[-1]
    forged = {k: v for k, v in last.items() if k != "record_hash"} | {"outcome": "FORGED"}
    forged["record_hash"] = record_hash(forged["prev_hash"], forged)
    three_days[-1] = forged
    assert _kinds(verify_chain(three_days, heads=heads)) == [(DAYS[2], 5, "edited")]


def test_records_beyond_the_head_are_not_an_error(three_days: list[dict[str, Any]]) -> None:
    heads = _heads(three_days)
    heads[DAYS[2]] = (
        3,
        next(r["record_hash"] for r in three_days if r["chain_day"] == DAYS[2] and r["seq"] == 3),
    )
    assert verify_chain(three_days, heads=heads) == []


def test_an_identical_copy_is_caught_as_duplicate(three_days: list[dict[str, Any]]) -> None:
    three_days.append(dict(three_days[3]))
    assert _kinds(verify_chain(three_days)) == [(DAYS[0], 4, "duplicate")]


def test_a_second_record_claiming_a_seq_is_caught_as_duplicate(three_days: list[dict[str, Any]]) -> None:
    intruder = link(three_days[2], {"request_id": "req_forged_000001"}, DAYS[0])  # also claims seq 4
    three_days.append(intruder)
    issues = verify_chain(three_days)
    assert _kinds(issues) == [(DAYS[0], 4, "duplicate")]


def test_a_chain_not_starting_from_genesis_is_caught_as_bad_genesis() -> None:
    first = {"n": 1, "chain_day": "2024-05-01", "seq": 1, "prev_hash": "a" * 64}
    first["record_hash"] = record_hash("a" * 64, first)
    second = link(first, {"n": 2}, "2024-05-01")
    records = [first, second]
    assert _kinds(verify_chain(records)) == [("2024-05-01", 1, "bad_genesis")]


def test_a_chain_starting_after_seq_one_from_genesis_is_bad_genesis() -> None:
    first = {"n": 1, "chain_day": "2024-05-01", "seq": 2, "prev_hash": GENESIS}
    first["record_hash"] = record_hash(GENESIS, first)
    assert _kinds(verify_chain([first])) == [("2024-05-01", 2, "bad_genesis")]


def test_a_seq_skipped_by_the_writer_with_intact_links_is_a_gap(three_days: list[dict[str, Any]]) -> None:
    day = _chain("2024-06-01", 2)
    third = {
        **_event("2024-06-01", 3),
        "chain_day": "2024-06-01",
        "seq": 4,
        "prev_hash": day[1]["record_hash"],
    }
    third["record_hash"] = record_hash(third["prev_hash"], third)
    assert _kinds(verify_chain([*day, third])) == [("2024-06-01", 3, "gap")]


@pytest.mark.parametrize(
    "broken",
    [
        {"request_id": "r"},
        {"chain_day": "2024-05-01", "seq": "1", "prev_hash": GENESIS, "record_hash": GENESIS},
        {"chain_day": "2024-05-01", "seq": True, "prev_hash": GENESIS, "record_hash": GENESIS},
        {"chain_day": "2024-05-01", "seq": 1, "prev_hash": "x", "record_hash": GENESIS},
        {"chain_day": 20240501, "seq": 1, "prev_hash": GENESIS, "record_hash": GENESIS},
        {
            "chain_day": "2024-05-01",
            "seq": 1,
            "prev_hash": GENESIS,
            "record_hash": GENESIS,
            "x": float("nan"),
        },
    ],
)
def test_a_record_with_broken_chain_fields_is_reported_not_raised(broken: dict[str, Any]) -> None:
    issues = verify_chain([broken])
    assert issues and all(i.kind == "edited" for i in issues)


def test_issues_carry_the_request_id_of_the_affected_record(three_days: list[dict[str, Any]]) -> None:
    three_days[0] = {**three_days[0], "outcome": "FORGED"}
    (issue,) = verify_chain(three_days)
    assert issue.request_id == three_days[0]["request_id"]


def test_heads_read_back_from_dynamodb_work(three_days: list[dict[str, Any]]) -> None:
    heads = {day: (Decimal(seq), h) for day, (seq, h) in _heads(three_days).items()}
    assert verify_chain(three_days, heads=heads) == []  # type: ignore[arg-type]
    truncated = [r for r in three_days if r["seq"] != 5]
    assert [i.kind for i in verify_chain(truncated, heads=heads)] == ["deleted"] * 3  # type: ignore[arg-type]


def test_malformed_heads_and_records_are_reported_not_raised() -> None:
    issues = verify_chain(["not a record"], heads={"2024-05-01": "bad"})  # type: ignore[list-item,dict-item]
    assert [i.kind for i in issues] == ["edited", "edited"]


def test_an_int_enum_hashes_as_its_value() -> None:
    class Level(IntEnum):
        HIGH = 3

    assert canonical_json({"level": Level.HIGH}) == canonical_json({"level": 3})
