"""Local servers that stand in for CompressAI's host (127.0.0.1 only): files, Range, cuts, stalls, refusals.

A plugin of the root conftest, so the codec, CLI and window tests share them.
"""

from __future__ import annotations

import http.server
import re
import socket
import threading
import time

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves `server.files`, honouring Range unless `server.ranges` is off; counts each request's body bytes.

    `server.cut[path] = n` ends the connection after n bytes of that file (as a lost connection does);
    a path in `server.slow` trickles (16 kB every 50 ms); `server.stall_after[path] = n` sends n bytes,
    then nothing until the test ends (`server.release`).
    """

    def do_GET(self):
        files: dict[str, bytes] = self.server.files  # type: ignore[attr-defined]
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        self.server.range_headers.append(self.headers.get("Range"))  # type: ignore[attr-defined]
        if self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"only a little")
            return
        if self.path == "/stall":  # a first block, then silence until the test lets go
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.server.release.wait(30)  # type: ignore[attr-defined]
            return
        data = files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        asked = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if asked and self.server.ranges:  # type: ignore[attr-defined]
            start = int(asked.group(1))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start : self.server.cut.get(self.path, len(data))]  # type: ignore[attr-defined]
        if self.path in self.server.stall_after:  # type: ignore[attr-defined]
            self.wfile.write(body[: self.server.stall_after[self.path]])  # type: ignore[attr-defined]
            self.wfile.flush()
            self.server.release.wait(30)  # type: ignore[attr-defined]
            return
        step = 16384 if self.path in self.server.slow else len(body) or 1  # type: ignore[attr-defined]
        transfer = [self.headers.get("Range"), 0]  # this request's body bytes (a killed one may still count)
        self.server.transfers.append(transfer)  # type: ignore[attr-defined]
        try:
            for at in range(0, len(body), step):
                self.wfile.write(body[at : at + step])
                transfer[1] += len(body[at : at + step])
                if step < len(body):
                    self.wfile.flush()
                    time.sleep(0.05)
        except OSError:  # the client went away (killed)
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    """A file server on 127.0.0.1: `server.files[path] = bytes`, `server.url`, and `server.transfers`:
    [Range header, body bytes sent] of each request, in the order they came."""
    # a proxy from the environment must not intercept it
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.files = {}  # type: ignore[attr-defined]
    httpd.requests = []  # type: ignore[attr-defined]
    httpd.range_headers = []  # type: ignore[attr-defined]
    httpd.ranges = True  # type: ignore[attr-defined]
    httpd.cut = {}  # type: ignore[attr-defined]
    httpd.slow = set()  # type: ignore[attr-defined]
    httpd.stall_after = {}  # type: ignore[attr-defined]
    httpd.transfers = []  # type: ignore[attr-defined]
    httpd.release = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    yield httpd
    httpd.release.set()  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def stalled_url():
    """A server that accepts connections and never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


@pytest.fixture
def refused_url():
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"
