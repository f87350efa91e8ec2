"""Issue 19 in process: the held-out scorecard (no raw secret, nothing mangled), the leaks the issue lists, the
demo config, the bookkeeping counts and the password-like literals of a query string."""

from __future__ import annotations

import json
from typing import Any

import pytest
from corpora.benign_formats import benign_corpus, split
from corpora.scorecard import HELD_OUT, TUNING, Scorecard, benign_split, cases, over_redacted
from corpora.secrets import CUSTOMER_ID_PATTERNS, leaks
from mcp_gateway.domain.redaction import RedactionConfig, Redactor

STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
AKID = "AKIAQ3EGTX7PLV5ZBN2D"


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(RedactionConfig(customer_id_patterns=CUSTOMER_ID_PATTERNS))


def test_the_corpora_are_large_split_with_a_fixed_seed_and_disjoint() -> None:
    tuning_benign, held_benign = benign_split()

    assert len(TUNING) + len(HELD_OUT) >= 1000 and len(HELD_OUT) >= 500
    assert not {s.value for s in TUNING} & {s.value for s in HELD_OUT}
    assert len(held_benign) >= 1000 and len(tuning_benign) >= 1000
    assert split(list(range(100)), seed=3) == split(list(range(100)), seed=3)
    assert benign_corpus() == benign_corpus() and benign_corpus(seed=2) != benign_corpus()


def test_the_held_out_scorecard_has_no_raw_secret_no_mangled_text_and_few_benign_changes(
    redactor: Redactor, capsys: pytest.CaptureFixture[str]
) -> None:
    card = Scorecard()
    for secret in HELD_OUT:
        card.secrets[secret.kind] += 1
    raw: list[tuple[str, str]] = []
    mangled: list[tuple[str, str]] = []
    for case in cases(HELD_OUT):
        out = redactor.redact_text(case.text).text
        recovered = bool(leaks(case.secret, out))
        bad = over_redacted(case, out)
        card.add_case(case, recovered=recovered, mangled=bad)
        if recovered:
            raw.append((case.secret.kind, case.syntax))
        if bad:
            mangled.append((case.secret.kind, case.syntax))
    _tuning, held_benign = benign_split()
    for _format, line in held_benign:
        card.add_benign(line, redactor.redact_text(line).text)

    with capsys.disabled():
        print("\n" + card.render(f"redaction scorecard (held-out, in process): {len(HELD_OUT)} secrets"))
    assert raw == []
    assert mangled == []
    assert card.over_redaction_rate <= 0.005
    assert len(card.planted) >= 35  # every class of the corpus is on the card


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"stripe hex {STRIPE.encode().hex()}", STRIPE[8:16]),
        (f"aws_access_key_id = {AKID[:10]}\n{AKID[10:]}\n", AKID[4:12]),
        ("password: T r 0 u b 4 d o r & 3 - h o r s e", "T r 0 u b 4"),
        ("customer 078-05-1121 filed ssn 536-90-4399", "536-90-4399"),
        ("payout to GB82 WEST 1234 5698 7654 32 today", "5698 7654"),
        ("nino QQ123456C is invalid, AB 12 34 56 C is valid", "AB 12 34 56 C"),
        ('key = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"', "4eC39HqL"),
        ("db=postgres://admin:p#ss/w?rd@db.example.com:5432/app", "p#ss/w?rd"),
    ],
)
def test_each_leak_the_issue_lists_is_closed(redactor: Redactor, text: str, fragment: str) -> None:
    result = redactor.redact_text(text)

    assert fragment not in result.text
    assert result.text.count("\n") == text.count("\n")


def test_a_url_password_with_special_characters_keeps_its_host(redactor: Redactor) -> None:
    result = redactor.redact_text("postgres://admin:p@ss#w/rd!@db.example.com:5432/app")

    assert result.text == "postgres://admin:[REDACTED:url_password]@db.example.com:5432/app"
    assert result.counts == {"url_password": 1}


def test_the_demo_app_env_comes_back_with_all_five_lines_and_their_labels(redactor: Redactor) -> None:
    from mcp_gateway_local import demo_data

    body = (
        f"DATABASE_URL=postgresql://orders_app:{demo_data.FAKE_DB_PASSWORD}@orders-db.internal:5432/orders\n"
        f"AWS_ACCESS_KEY_ID={demo_data.FAKE_AWS_KEY_ID}\nAWS_SECRET_ACCESS_KEY={demo_data.FAKE_AWS_SECRET}\n"
        f"STRIPE_API_KEY={demo_data.FAKE_STRIPE}\nLOG_LEVEL=info\n"
    )

    result = redactor.redact_text(body)

    assert result.text == (
        "DATABASE_URL=postgresql://orders_app:[REDACTED:url_password]@orders-db.internal:5432/orders\n"
        "AWS_ACCESS_KEY_ID=[REDACTED:aws_access_key_id]\nAWS_SECRET_ACCESS_KEY=[REDACTED:aws_secret_key]\n"
        "STRIPE_API_KEY=[REDACTED:stripe_key]\nLOG_LEVEL=info\n"
    )


def test_a_webhook_never_swallows_the_label_of_the_next_env_line(redactor: Redactor) -> None:
    lines = [f"KEY_{i}=value-{i}" for i in range(12)]
    lines[5] = "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFGHI/" + "x7Yz" * 6
    text = "\n".join(lines) + "\n"

    result = redactor.redact_text(text)

    out = result.text.split("\n")
    assert len(out) == len(lines) + 1
    assert out[6] == "KEY_6=value-6" and out[5] == "SLACK_WEBHOOK_URL=[REDACTED:slack_webhook]"


def test_the_redactions_summary_keeps_its_integer_counts(redactor: Redactor) -> None:
    record: dict[str, Any] = {
        "request_id": "r-1",
        "redactions": {"password": 2, "aws_secret_key": 1, "token": 3, "private_key": 1},
        "result": {"redactions": {"secret": 4}},
    }

    clean, counts = redactor.redact_value(record)

    assert clean == record and counts == {}
    assert json.loads(json.dumps(clean))["redactions"]["password"] == 2


def test_a_redactions_key_holding_anything_but_counts_is_still_redacted(redactor: Redactor) -> None:
    clean, counts = redactor.redact_value({"redactions": {"password": "Tr0ub4dor&3-horse"}})

    assert clean == {"redactions": {"password": "[REDACTED:password]"}}
    assert counts == {"password": 1}


@pytest.mark.parametrize("key", ["query", "queryString", "filter_pattern"])
def test_a_bare_random_password_in_a_query_string_is_redacted_and_the_query_kept(redactor: Redactor, key: str) -> None:
    query = 'fields @timestamp, @message | filter @message like "Xk9#mP2vL7q!" | filter level = "ERROR" | limit 20'

    clean, counts = redactor.redact_value({key: query, "log_groups": ["/aws/lambda/orders-api"]})

    assert clean[key] == (
        'fields @timestamp, @message | filter @message like "[REDACTED:password]" | filter level = "ERROR" | limit 20'
    )
    assert counts == {"password": 1}


@pytest.mark.parametrize(
    "query",
    [
        'fields @timestamp | filter @requestId = "0f8fad5b-d9cb-469f-a165-70867728950e"',
        'filter @message like /ProvisionedThroughputExceededException/ and service = "orders-api"',
        'filter @logStream like "2026/11/24/[$LATEST]a1b2c3d4" | stats count(*) by bin(5m)',
    ],
)
def test_ordinary_query_literals_are_not_passwords(redactor: Redactor, query: str) -> None:
    clean, counts = redactor.redact_value({"query": query})

    assert clean == {"query": query} and counts == {}


def test_new_pii_classes_are_validated_by_their_checksums(redactor: Redactor) -> None:
    valid = "ssn 536-90-4399, IBAN DE89370400440532013000, routing_number: 021000021"
    invalid = "ssn 000-12-3456, IBAN DE89370400440532013001, routing_number: 021000022"

    assert redactor.redact_text(valid).counts == {"us_ssn": 1, "iban": 1, "bank_routing_number": 1}
    assert redactor.redact_text(invalid).counts == {}


def test_a_case_that_loses_a_non_secret_value_counts_as_over_redacted() -> None:
    case = next(c for c in cases(HELD_OUT[:40]) if c.syntax == "env")

    assert not over_redacted(case, case.text)
    assert over_redacted(case, case.text.replace("LOG_LEVEL=info", "[REDACTED:secret]"))
    assert over_redacted(case, case.text.replace("\n", "", 1))
