"""A fault-injecting HTTP proxy between the playbooks and the AWS emulator.

It forwards every request (method, path, headers, body) to the emulator and streams the answer back, except
that, as set at run time from the test process:

- a share of the AWS calls (the same calls for the same seed and order) is answered with a fault instead of
  being forwarded: ``throttle`` in the shape of the call's protocol (JSON protocol: 400 ``ThrottlingException``
  in ``x-amzn-ErrorType`` and ``__type``; EC2: 503 ``RequestLimitExceeded``; other query protocols: 400
  ``Throttling``; S3: 503 ``SlowDown``; rest-json services such as Lambda: 429 ``TooManyRequestsException``),
  or a plain HTTP ``500`` / ``503``;
- every AWS call can be delayed (``latency`` seconds);
- the proxy can be cut and restored: while cut, every request is met by a closed connection and no answer
  (what a client sees of a dead endpoint). ``cut_at(action)`` cuts when that action passes: the call reaches
  the emulator but its answer is lost, the worst cut (the resource exists, the client does not know it).

Calls are identified the way the emulator's recorder does (service from the signature, action) and counted
(total, faulted, mutating per ``tests.harness.emulator.is_mutating``). Unsigned requests (the emulator's
``/moto-api`` and ``/_sage`` control paths) pass unchanged and uncounted::

    with fault_proxy.running(emulator.endpoint) as proxy:
        proxy.configure(share=0.2, faults=("throttle", "500", "503"), seed=8)
        proxy.cut_at("CreateNatGateway")
        run_playbook("site.yml", proxy.endpoint)   # fails: the endpoint stopped answering
        proxy.restore()
"""

from __future__ import annotations

import http.client
import io
import json
import random
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.harness.emulator import CallRecorder, is_mutating
from tests.harness.net import HOST

FAULTS = ("throttle", "500", "503")
# What a call that met no fault, or the cut, is recorded with.
FORWARDED, LOST, REFUSED = "forwarded", "lost", "refused"
# Not forwarded as they came: the proxy frames the body itself (Content-Length) on both legs.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
}


@dataclass(frozen=True)
class Call:
    service: str
    action: str
    outcome: str  # one of FAULTS, FORWARDED, LOST (forwarded, answer dropped) or REFUSED (cut)


def identify(method: str, target: str, headers, body: bytes) -> dict[str, str] | None:
    """Service and action of a request, as the emulator's recorder sees them (None: not an AWS call)."""
    url = urlsplit(target)
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": url.path,
        "QUERY_STRING": url.query,
        "HTTP_AUTHORIZATION": headers.get("Authorization", ""),
        "HTTP_X_AMZ_TARGET": headers.get("X-Amz-Target"),
        "CONTENT_TYPE": headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    return CallRecorder._identify(environ)


def fault_answer(fault: str, call: dict[str, str], json_protocol: bool) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a fault, in the error shape the call's protocol uses."""
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id, "Content-Type": "text/xml"}
    if fault != "throttle":
        body = f"<html><body><b>Http/1.1 {fault} injected</b></body></html>"  # the shape of AWS's front end
        return int(fault), {**headers, "Content-Type": "text/html"}, body.encode()
    if call["service"] == "s3":
        body = f"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message><RequestId>{request_id}"
        return 503, headers, f"{body}</RequestId></Error>".encode()
    if json_protocol or " " in call["action"]:  # JSON protocol, or rest-json (Lambda ...): no Action
        code, status = ("ThrottlingException", 400) if json_protocol else ("TooManyRequestsException", 429)
        body = json.dumps({"__type": code, "message": "Rate exceeded"})
        return status, {**headers, "x-amzn-ErrorType": code, "Content-Type": "application/json"}, body.encode()
    if call["service"] == "ec2":
        error = "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
        body = f"<Response><Errors><Error>{error}</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        return 503, headers, body.encode()
    error = "<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
    body = f"<ErrorResponse><Error>{error}</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    return 400, headers, body.encode()


class FaultProxy(ThreadingHTTPServer):
    """The proxy and its run-time settings; serve it with ``running()``."""

    daemon_threads = True

    def __init__(self, upstream: str, port: int = 0):
        target = urlsplit(upstream)
        self.upstream = (target.hostname, target.port)
        super().__init__((HOST, port), _Handler)
        self.endpoint = f"http://{HOST}:{self.server_address[1]}"
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.is_cut = False
        self.cut_event = threading.Event()
        self._cut_action: str | None = None
        self.configure()

    def configure(
        self,
        share: float = 0.0,
        faults: tuple[str, ...] = FAULTS,
        latency: float = 0.0,
        seed: int = 0,
        spare: tuple[str, ...] = (),
    ) -> None:
        """Fail `share` of the calls with one of `faults` each (chosen with a generator seeded by `seed`), but
        never the actions in `spare`."""
        if not 0 <= share <= 1 or not faults or set(faults) - set(FAULTS) or latency < 0:
            raise ValueError(f"share in [0, 1], faults among {FAULTS}, latency >= 0: {share}, {faults}, {latency}")
        with self.lock:
            self.share, self.faults, self.latency, self.spare = share, tuple(faults), latency, set(spare)
            self._random = random.Random(seed)

    def cut(self) -> None:
        with self.lock:
            self._cut()

    def cut_at(self, action: str) -> None:
        """Cut when the next `action` call passes, after the emulator got it and before its answer."""
        with self.lock:
            self._cut_action = action

    def restore(self) -> None:
        with self.lock:
            self.is_cut, self._cut_action = False, None
            self.cut_event.clear()

    def reset_counts(self) -> None:
        with self.lock:
            self.calls.clear()

    def counts(self) -> dict[str, int]:
        """total, faulted, mutating; and per outcome (throttle, 500, 503, forwarded, lost, refused)."""
        with self.lock:
            calls = list(self.calls)
        outcomes = Counter(call.outcome for call in calls)
        return {
            "total": len(calls),
            "faulted": sum(outcomes[fault] for fault in FAULTS),
            "mutating": sum(is_mutating(call.action) for call in calls),
            **outcomes,
        }

    def _cut(self) -> None:
        self.is_cut = True
        self.cut_event.set()

    def decide(self, call: dict[str, str]) -> str:
        """What happens to this call; recorded."""
        with self.lock:
            if self.is_cut:
                outcome = REFUSED
            elif call["action"] == self._cut_action:
                self._cut_action = None
                self._cut()
                outcome = LOST
            elif call["action"] not in self.spare and self._random.random() < self.share:
                outcome = self._random.choice(self.faults)
            else:
                outcome = FORWARDED
            self.calls.append(Call(call["service"], call["action"], outcome))
        return outcome


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxy

    def _proxy(self) -> None:
        body = self._read_body()
        call = identify(self.command, self.path, self.headers, body)
        outcome = self.server.decide(call) if call else FORWARDED
        if call and self.server.latency:
            time.sleep(self.server.latency)
        if outcome == REFUSED:
            self.close_connection = True
        elif outcome in FAULTS:
            self._answer(*fault_answer(outcome, call, "X-Amz-Target" in self.headers))
        else:
            self._forward(body, answer=outcome == FORWARDED)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _proxy

    def _read_body(self) -> bytes:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():  # trailers
            pass
        return b"".join(chunks)

    def _forward(self, body: bytes, answer: bool) -> None:
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=600)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            if not answer:
                response.read()
                self.close_connection = True
                return
            self._stream(response)
        except OSError:  # the emulator is gone: the client sees a dead endpoint too
            self.close_connection = True
        finally:
            upstream.close()

    def _stream(self, response: http.client.HTTPResponse) -> None:
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        length = response.getheader("Content-Length")
        no_body = self.command == "HEAD" or response.status in (204, 304)
        chunked = length is None and not no_body
        if length is not None:
            self.send_header("Content-Length", length)
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif no_body:
            self.send_header("Content-Length", "0")
        self.end_headers()
        if no_body:
            return
        while block := response.read(65536):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):  # quiet: the tests read the counts
        pass


@contextmanager
def running(upstream: str):
    """A proxy to `upstream` on a free loopback port, served in a thread, closed on exit."""
    proxy = FaultProxy(upstream)
    thread = threading.Thread(target=proxy.serve_forever, name="fault-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=10)
