"""The http advisor against hostile local servers (127.0.0.1, started here): a cross-port
redirect, a 1-byte drip, slow headers and a huge body. Every call must end by its
deadline, read at most its cap, never follow a redirect, and never block exit."""

import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time

import pytest

from aifedge.config import ConfigError
from aifedge.llm_bridge.advisors import (
    AdvisorConnection,
    AdvisorHttpStatus,
    AdvisorRedirect,
    AdvisorTimeout,
    AdvisorTooLarge,
    AsyncAdvisor,
    HttpAdvisor,
    ObsSummary,
)

SUMMARY = ObsSummary((10.0, 20.0), (True, True), 80.0, 80.0, "video", 500.0, 0.9)
OK = json.dumps({"choices": [{"message": {"content": "Send it to the cloud."}}]}).encode()


class _Handler(socketserver.BaseRequestHandler):
    """Reads the request head (+ body), then behaves as ``server.mode`` says."""

    def handle(self):
        sock = self.request
        data = b""
        while b"\r\n\r\n" not in data:
            got = sock.recv(4096)
            if not got:
                return
            data += got
        head = data.split(b"\r\n\r\n")[0].decode("latin-1")
        self.server.seen.append(head)
        mode, stop = self.server.mode, self.server.stop
        try:
            if mode == "ok":
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(OK)}\r\n\r\n".encode()
                    + OK
                )
            elif mode == "redirect":
                loc = f"http://127.0.0.1:{self.server.target}/v1/chat/completions"
                sock.sendall(f"HTTP/1.1 302 Found\r\nLocation: {loc}\r\n\r\n".encode())
            elif mode in ("drip", "slow_headers"):
                text = (
                    b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b" " * 100000
                    if mode == "drip"
                    else b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100000
                )
                if mode == "drip":  # headers at once, then the body one byte at a time
                    cut = text.index(b"\r\n\r\n") + 4
                    sock.sendall(text[:cut])
                    text = text[cut:]
                for byte in text:
                    if stop.wait(0.2):
                        return
                    sock.sendall(bytes([byte]))
            elif mode in ("huge", "huge_declared"):
                length = "" if mode == "huge" else "Content-Length: 400000000\r\n"
                sock.sendall(f"HTTP/1.1 200 OK\r\n{length}\r\n".encode())
                block = b"x" * 65536
                for _ in range(6200):  # up to 400 MB, until the client hangs up
                    if stop.is_set():
                        return
                    sock.sendall(block)
                    self.server.sent += len(block)
            elif mode == "error":
                sock.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass  # the client hung up


@pytest.fixture
def serve():
    """``serve(mode, **attrs) -> (url, server)``: a fresh server on a free port."""
    servers = []

    def start(mode, **attrs):
        srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        srv.daemon_threads = True
        srv.mode, srv.seen, srv.sent, srv.stop = mode, [], 0, threading.Event()
        for k, v in attrs.items():
            setattr(srv, k, v)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/v1", srv

    yield start
    for srv in servers:
        srv.stop.set()
        srv.shutdown()
        srv.server_close()


def test_cross_port_redirect_is_not_followed_and_token_stays(serve, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sekret")
    good_url, good = serve("ok")
    url, evil = serve("redirect", target=good.server_address[1])
    adv = HttpAdvisor(url, api_key_env="TEST_LLM_KEY", timeout_s=2.0, allow_insecure_token=True)
    with pytest.raises(AdvisorRedirect, match="302"):
        adv(SUMMARY)
    assert "Bearer sekret" in evil.seen[0]  # sent to the configured origin only
    assert good.seen == []  # the redirect target got nothing, token included
    # the same client works against the honest server: the failure is the redirect
    ok = HttpAdvisor(good_url, api_key_env="TEST_LLM_KEY", allow_insecure_token=True)
    assert ok(SUMMARY).text == "Send it to the cloud."


def test_token_only_over_https_unless_allowed(monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sekret")
    with pytest.raises(ConfigError, match="--allow-insecure-token"):
        HttpAdvisor("http://127.0.0.1:9/v1", api_key_env="TEST_LLM_KEY")
    HttpAdvisor("https://127.0.0.1:9/v1", api_key_env="TEST_LLM_KEY")  # accepted
    monkeypatch.delenv("TEST_LLM_KEY")
    HttpAdvisor("http://127.0.0.1:9/v1", api_key_env="TEST_LLM_KEY")  # no token: fine


@pytest.mark.parametrize("mode", ["drip", "slow_headers"])
def test_drip_and_slow_headers_end_by_the_deadline(serve, mode):
    url, _ = serve(mode)
    start = time.monotonic()
    with pytest.raises(AdvisorTimeout):
        HttpAdvisor(url, timeout_s=0.8)(SUMMARY)  # each byte comes within 0.2 s < 0.8 s
    elapsed = time.monotonic() - start
    assert 0.7 <= elapsed < 0.8 + 0.5, elapsed


@pytest.mark.parametrize("mode", ["huge", "huge_declared"])
def test_huge_body_is_capped(serve, mode):
    url, srv = serve(mode)
    with pytest.raises(AdvisorTooLarge):
        HttpAdvisor(url, timeout_s=5.0, max_bytes=100_000)(SUMMARY)
    srv.stop.set()
    # the client stopped reading at the cap: the server could push at most the cap plus
    # what the two socket buffers hold (a few MB on Linux), not the 400 MB it offered
    assert srv.sent < 32 * 2**20, srv.sent


def test_http_error_and_closed_port_kinds(serve):
    url, _ = serve("error")
    with pytest.raises(AdvisorHttpStatus, match="500"):
        HttpAdvisor(url, timeout_s=2.0)(SUMMARY)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AdvisorConnection):
        HttpAdvisor(f"http://127.0.0.1:{port}/v1", timeout_s=2.0)(SUMMARY)


def test_every_failure_kind_is_counted(serve):
    counts = {}
    for mode, kind in [("redirect", "redirects"), ("huge", "too_large"), ("drip", "timeouts")]:
        url, _ = serve(mode, target=9)
        adv = HttpAdvisor(url, timeout_s=0.5, max_bytes=200_000)  # drip declares 100 kB
        asy = AsyncAdvisor(adv, 0.5, 0.05, None, 1)
        asy.step(0, 0.9, SUMMARY)  # trigger
        asy.step(1, 0.0, SUMMARY)  # fixed delay 1: waits for the call (≤ its deadline)
        counts[kind] = asy.stats()
    for kind, stats in counts.items():
        assert stats[kind] == 1 and stats["calls"] == 1 and stats["successes"] == 0
        assert stats["failures"] == (kind != "timeouts") and stats["fallbacks"] == 1


def test_a_stuck_call_never_blocks_exit(serve):
    """A process whose advisor call is stuck on a dripping server (deadline 600 s) exits
    when its main code ends, not at the deadline: the worker is a daemon thread. (The
    bound is half the deadline, so a loaded machine's slow import cannot fail it.)"""
    url, srv = serve("drip")
    code = (
        "import time\n"
        "from aifedge.llm_bridge.advisors import AsyncAdvisor, HttpAdvisor, ObsSummary\n"
        "s = ObsSummary((1.0,), (True,), 80.0, 80.0, 'x', 500.0)\n"
        f"a = AsyncAdvisor(HttpAdvisor({url!r}, timeout_s=600), 0.5, 0.01)\n"
        "a.step(0, 0.9, s)\n"
        "time.sleep(1.0)\n"  # the call is under way, dripping
        "print(a.stats()['unfinished'])\n"
    )
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1" and len(srv.seen) == 1  # the call was in flight
    assert time.monotonic() - start < 300  # import + 1 s, not the 600 s deadline


@pytest.mark.slow
def test_cli_with_a_dripping_endpoint_writes_results_and_exits(serve, tmp_path):
    """The whole command (agent, encoder, 1 episode): the dripping call is cut at its
    2 s deadline or left unfinished, counted in summary.json, and the process exits."""
    url, _ = serve("drip")
    out = tmp_path / "o"
    args = ["simulate", "--policy", "aif-llm", "--advisor", "http", "--llm-url", url]
    args += ["--llm-timeout", "2", "--episodes", "1", "--steps", "30", "--out", str(out)]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "AIFEDGE_LLM_API_KEY": ""}
    done = subprocess.run(
        [sys.executable, "-m", "aifedge.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    adv = json.loads((out / "summary.json").read_text())["advisor"]
    assert adv["calls"] >= 1 and adv["successes"] == 0
    assert adv["timeouts"] + adv["unfinished"] == adv["calls"]
