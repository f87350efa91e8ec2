"""adapters/aws.py: a function's clients are built on first use, not at cold start (issue 17, cold start)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from mcp_gateway.adapters import aws


def test_a_lazy_client_is_not_built_until_its_first_use_and_then_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real_session_client = aws.session_client

    def counting(base: Any, service: str, region: str | None = None, endpoint_url: str | None = None) -> Any:
        built.append(service)
        return real_session_client(base, service, region, endpoint_url)

    monkeypatch.setattr(aws, "session_client", counting)
    lazy = aws.LazyClient("kms", "us-east-1")
    assert built == []
    assert "not built yet" in repr(lazy)
    assert lazy.meta.service_model.service_name == "kms"
    assert lazy.meta.region_name == "us-east-1"
    assert lazy.exceptions.NotFoundException.__name__ == "NotFoundException"
    assert built == ["kms"]
    assert "built" in repr(lazy)


def test_concurrent_first_uses_of_a_lazy_client_build_one_client(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real_session_client = aws.session_client

    def counting(base: Any, service: str, region: str | None = None, endpoint_url: str | None = None) -> Any:
        built.append(service)
        return real_session_client(base, service, region, endpoint_url)

    monkeypatch.setattr(aws, "session_client", counting)
    lazy = aws.LazyClient("sqs", "us-east-1")
    seen: list[Any] = []
    barrier = threading.Barrier(8)

    def use() -> None:
        barrier.wait()
        seen.append(lazy.meta)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == ["sqs"]
    assert len({id(m) for m in seen}) == 1
