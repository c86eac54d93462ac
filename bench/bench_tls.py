"""TLS servers under load: for each loop a TLS server runs in its own process, and
one client drives it, the same for every loop: tlsclient.c (C with OpenSSL, built
into bench/build/ on first use), fast enough to keep the server busy.

  tls-echo-1k   echo of 1 KiB messages over --conns connections, one request in
                flight on each: requests/s and the server's CPU time per request
                (user + system, from /proc).
  tls-send-64k  the server sends --bulk-mb MiB in 64 KiB transport.write()s,
                pausing when the transport asks; the client reads it all: MB/s
                (wall time, from connect to EOF) and the server's CPU per MiB.
  tls-recv-64k  the client sends --bulk-mb MiB in 64 KiB writes, the server's
                data_received() counts them and answers one byte at the end: MB/s
                and the server's CPU per MiB.

CPU time is read from /proc/PID/schedstat (nanoseconds; /proc/PID/stat counts
10 ms ticks, too coarse for a few seconds of load).

TLS 1.3 with the test certificate in tests/certs (RSA 2048, AES-GCM). See runner.py
for the common options."""

import asyncio
import functools
import json
import os
import ssl
import subprocess
import sys

import runner

HOST = "127.0.0.1"
CERTS = runner.REPO_ROOT / "tests" / "certs"
WRITE_SIZE = 64 * 1024


def _server_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERTS / "server.pem", CERTS / "server.key")
    return context


def _client_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(CERTS / "ca.pem")
    return context


# --------------------------------------------------------------------------
# Servers (child side)


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class BulkSender(asyncio.Protocol):
    """Sends `total` bytes in WRITE_SIZE writes as fast as flow control allows,
    then closes."""

    def __init__(self, total):
        self.left = total
        self.chunk = os.urandom(WRITE_SIZE)
        self.paused = False

    def connection_made(self, transport):
        self.transport = transport
        self._send()

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        self._send()

    def _send(self):
        while self.left > 0 and not self.paused:
            self.transport.write(self.chunk)
            self.left -= WRITE_SIZE
        if self.left <= 0 and not self.transport.is_closing():
            self.transport.close()


class BulkReceiver(asyncio.Protocol):
    """Counts what it receives; answers one byte once `total` came."""

    def __init__(self, total):
        self.left = total

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.left -= len(data)
        if self.left <= 0:
            self.transport.write(b"k")


def _serve(new_loop, protocol_factory):
    loop = new_loop()
    server = loop.run_until_complete(loop.create_server(
        protocol_factory, HOST, 0, ssl=_server_context()))
    runner.report({"port": server.sockets[0].getsockname()[1]})
    loop.run_forever()


def _echo_server(new_loop):
    _serve(new_loop, EchoProtocol)


def _sending_server(new_loop, total):
    _serve(new_loop, functools.partial(BulkSender, int(total)))


def _receiving_server(new_loop, total):
    _serve(new_loop, functools.partial(BulkReceiver, int(total)))


WORKLOADS = {"echo": _echo_server, "send": _sending_server, "receive": _receiving_server}

# --------------------------------------------------------------------------
# Measurement (parent side)


@functools.cache
def _tlsclient():
    """Build the client on first use (again when its source changed)."""
    subprocess.run(["make", "-s", "-C", str(runner.BENCH_DIR), "build/tlsclient"],
                   check=True)
    return str(runner.BENCH_DIR / "build" / "tlsclient")


def _run_client(mode, port, *args, timeout):
    command = [_tlsclient(), mode, HOST, str(port), str(CERTS / "ca.pem"),
               *(str(a) for a in args)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise runner.ChildError(lines[-1] if lines else f"client: exit {proc.returncode}")
    return json.loads(proc.stdout)


def _cpu_seconds(pid):
    """CPU time of every thread of the process so far, in seconds."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def _measure_echo(loop, args):
    with loop.serve("echo") as (proc, ready):
        port = ready["port"]
        if args.warmup:
            _run_client("echo", port, 1024, args.conns, args.warmup,
                        timeout=args.warmup + 30)
        cpu_before = _cpu_seconds(proc.pid)
        result = _run_client("echo", port, 1024, args.conns, args.duration,
                             timeout=args.duration + 30)
        cpu = _cpu_seconds(proc.pid) - cpu_before
    if not result["requests"]:
        raise runner.ChildError("no request completed")
    return {"req/s": result["req/s"], "cpu_us/req": cpu / result["requests"] * 1e6}


def _measure_bulk(workload, client_mode, loop, args):
    total = args.bulk_mb * 1024 * 1024
    with loop.serve(workload, str(total)) as (proc, ready):
        cpu_before = _cpu_seconds(proc.pid)
        result = _run_client(client_mode, ready["port"], total, timeout=120)
        cpu = _cpu_seconds(proc.pid) - cpu_before
    return {"MB/s": result["MB/s"], "cpu_ms/MiB": cpu * 1e3 / args.bulk_mb}


BENCHMARKS = {"tls-echo-1k": _measure_echo,
              "tls-send-64k": functools.partial(_measure_bulk, "send", "bulk"),
              "tls-recv-64k": functools.partial(_measure_bulk, "receive", "upload")}


def _add_arguments(parser):
    parser.add_argument("--duration", type=float, default=5.0,
                        help="seconds of echo load per measurement (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of unmeasured echo load first (default %(default)s)")
    parser.add_argument("--conns", type=int, default=10,
                        help="echo client connections (default %(default)s)")
    parser.add_argument("--bulk-mb", type=int, default=512,
                        help="MiB the bulk server sends (default %(default)s)")
    parser.set_defaults(rounds=3)


if __name__ == "__main__":
    runner.main(WORKLOADS, BENCHMARKS, _add_arguments)
