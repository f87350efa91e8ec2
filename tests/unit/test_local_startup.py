"""Local traps (issue 18): the port check binds the way the servers bind, so `make run`, Ctrl-C, `make run` again
works at once; a port given twice is one clean line; every loopback name is a Host the local gateway accepts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from mcp_gateway_local import cli
from mcp_gateway_local.stack import FunctionUrlServer, LocalStack, PortInUseError, _check_port, loopback_hosts


@pytest.fixture(autouse=True)
def _run_leaves_the_environment_as_it_found_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """`mcp-gateway run` quiets Powertools through the process environment (it owns its process); inside the test
    process that must not leak into later tests' loggers, so the variables are restored after each test."""
    for name in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_LOG_LEVEL"):
        monkeypatch.setenv(name, "")  # records the variable's original state (set or not) for the undo
        monkeypatch.delenv(name)


def leave_in_time_wait() -> int:
    """A loopback port whose last connection the server side closed first: it sits in TIME_WAIT, nothing listens."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = int(listener.getsockname()[1])
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    listener.close()
    accepted.close()  # the server closes first: its side of the connection goes to TIME_WAIT
    client.recv(1)
    client.close()
    return port


def test_a_port_in_time_wait_after_ctrl_c_is_free_for_the_next_make_run() -> None:
    port = leave_in_time_wait()
    assert _check_port("127.0.0.1", port, "gateway server") == port
    server = FunctionUrlServer("127.0.0.1", port, lambda event, context: {}, "gateway")
    server.server_close()


def test_a_port_something_listens_on_is_still_refused_with_the_make_variable_to_change() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = int(busy.getsockname()[1])
        with pytest.raises(PortInUseError) as caught:
            _check_port("127.0.0.1", port, "idp server")
    assert "IDP_PORT" in str(caught.value)


def test_the_same_port_twice_is_refused_before_anything_binds(tmp_path: Path) -> None:
    stack = LocalStack(gateway_port=47111, idp_port=47111, state_dir=tmp_path)
    with pytest.raises(PortInUseError) as caught:
        stack.start()
    assert "PORT" in str(caught.value) and "IDP_PORT" in str(caught.value)
    assert stack._moto is None  # nothing was started


def test_make_run_with_a_port_twice_prints_one_line_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--state-dir", str(tmp_path), "run", "--port", "47112", "--idp-port", "47112"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_every_loopback_name_is_an_allowed_host_of_the_local_gateway() -> None:
    assert loopback_hosts(8080) == ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"]
