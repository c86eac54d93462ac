"""Subprocesses: how fast each loop spawns children (from one thread, from many
threads each running its own loop, from a large process) and how fast it reads a
child's stdout. Each workload runs in a fresh child process; see runner.py for
the options and how results are compared.

Every spawn runs `true` with no pipes and waits for it to exit
(asyncio.create_subprocess_exec + wait()), so a spawn is a whole round trip:
start, exec, exit noticed, child reaped. `failures` counts spawns that raised
(upstream uvloop's issue #508: "Racing with another loop to spawn a process");
spawns/s counts the ones that succeeded.
"""

import asyncio
import subprocess
import sys
import threading
import time

import runner

TRUE = "true"
SPAWNS_1_THREAD = 1000
THREADS = 10
SPAWNS_PER_THREAD = 150
# The large process: this much memory, every page written (so a fork() has to
# copy its page tables), and spawns until SPAWNS_BIG done or BIG_SECONDS passed
# (upstream's fork() makes each spawn cost tens of milliseconds here).
BIG_BYTES = 1 << 30
SPAWNS_BIG = 1000
BIG_SECONDS = 5.0
PIPE_BYTES = 200 * 1024 * 1024
STREAM_BYTES = 10 * 1024 * 1024
STREAM_RUNS = 10


async def _spawn_true():
    proc = await asyncio.create_subprocess_exec(
        TRUE, stdin=None, stdout=None, stderr=None)
    if await proc.wait() != 0:
        raise RuntimeError(f"{TRUE} exited with {proc.returncode}")


async def _spawn_many(count, deadline=None):
    """Spawn `count` children one after the other; (successes, failures)."""
    ok = failed = 0
    for _ in range(count):
        try:
            await _spawn_true()
        except Exception:
            failed += 1
        else:
            ok += 1
        if deadline is not None and time.perf_counter() > deadline:
            break
    return ok, failed


def _metrics(ok, failed, elapsed):
    return {"spawns/s": ok / elapsed, "failures": failed}


def spawn_1_thread(new_loop):
    """One loop in one thread spawning children one after the other."""
    loop = new_loop()
    try:
        t0 = time.perf_counter()
        ok, failed = loop.run_until_complete(_spawn_many(SPAWNS_1_THREAD))
        elapsed = time.perf_counter() - t0
    finally:
        loop.close()
    return _metrics(ok, failed, elapsed)


def _spawn_in_threads(new_loop, switch_interval=None):
    results = [None] * THREADS
    barrier = threading.Barrier(THREADS + 1)

    def worker(i):
        loop = new_loop()
        try:
            barrier.wait()
            results[i] = loop.run_until_complete(_spawn_many(SPAWNS_PER_THREAD))
        except Exception:
            results[i] = (0, SPAWNS_PER_THREAD)
        finally:
            loop.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    return _metrics(ok, failed, elapsed)


def spawn_10_threads(new_loop):
    """Ten threads, each with its own loop, spawning at the same time."""
    return _spawn_in_threads(new_loop)


def spawn_10_threads_switch(new_loop):
    """The same with sys.setswitchinterval(1e-6): thread switches in the middle
    of spawns (the #508 scenario)."""
    return _spawn_in_threads(new_loop, switch_interval=1e-6)


def spawn_1gib(new_loop):
    """One thread spawning from a process holding 1 GiB of touched memory."""
    ballast = b"\x01" * BIG_BYTES  # written, so every page is really mapped
    loop = new_loop()
    try:
        t0 = time.perf_counter()
        ok, failed = loop.run_until_complete(
            _spawn_many(SPAWNS_BIG, deadline=t0 + BIG_SECONDS))
        elapsed = time.perf_counter() - t0
    finally:
        loop.close()
    del ballast
    return _metrics(ok, failed, elapsed)


class _CountingProtocol(asyncio.SubprocessProtocol):
    def __init__(self, done):
        self.received = 0
        self.done = done

    def pipe_data_received(self, fd, data):
        self.received += len(data)

    def connection_lost(self, exc):
        self.done.set_result(self.received)


def _read_child_stdout(new_loop, program):
    """Run `program`, which writes PIPE_BYTES to its stdout pipe; the protocol
    counts the bytes (pipe_data_received): the pipe transport's read path. Also
    reports this process's CPU time per 100 MB read (the writer is another
    process): on 2 cores the MB/s of a pipe depends as much on how often each
    side wakes the other as on the reader's speed."""
    loop = new_loop()

    async def main():
        done = loop.create_future()
        transport, _ = await loop.subprocess_exec(
            lambda: _CountingProtocol(done), *program,
            stdin=None, stdout=subprocess.PIPE, stderr=None)
        received = await done
        transport.close()
        return received

    try:
        t0 = time.perf_counter()
        c0 = time.process_time()
        received = loop.run_until_complete(main())
        cpu = time.process_time() - c0
        elapsed = time.perf_counter() - t0
    finally:
        loop.close()
    if received != PIPE_BYTES:
        raise RuntimeError(f"received {received} bytes, expected {PIPE_BYTES}")
    return {"MB/s": received / elapsed / 1e6,
            "cpu_ms/100MB": cpu * 1e3 / (received / 1e8)}


def stdout_pipe(new_loop):
    """A child writes 200 MiB in 8 KiB writes (`head -c`, as stdio-buffered
    programs write)."""
    return _read_child_stdout(
        new_loop, ["head", "-c", str(PIPE_BYTES), "/dev/zero"])


def stdout_pipe_64k(new_loop):
    """A child writes 200 MiB in 64 KiB writes (`dd bs=64k`): one pipe-full each."""
    return _read_child_stdout(
        new_loop, ["dd", "if=/dev/zero", "bs=64k",
                   f"count={PIPE_BYTES // 65536}", "status=none"])


def stdout_streams(new_loop):
    """10 MiB from a child's stdout through asyncio's streams
    (create_subprocess_exec + communicate()), ten children one after the other:
    what most programs do."""
    loop = new_loop()

    async def main():
        total = 0
        for _ in range(STREAM_RUNS):
            proc = await asyncio.create_subprocess_exec(
                "head", "-c", str(STREAM_BYTES), "/dev/zero",
                stdin=None, stdout=subprocess.PIPE, stderr=None)
            out, _ = await proc.communicate()
            total += len(out)
        return total

    try:
        t0 = time.perf_counter()
        received = loop.run_until_complete(main())
        elapsed = time.perf_counter() - t0
    finally:
        loop.close()
    if received != STREAM_BYTES * STREAM_RUNS:
        raise RuntimeError(f"received {received} bytes")
    return {"MB/s": received / elapsed / 1e6}


WORKLOADS = {
    "spawn-1-thread": spawn_1_thread,
    "spawn-10-threads": spawn_10_threads,
    "spawn-10-threads-switch": spawn_10_threads_switch,
    "stdout-pipe": stdout_pipe,
    "stdout-pipe-64k": stdout_pipe_64k,
    "stdout-streams-10mb": stdout_streams,
    "spawn-1gib": spawn_1gib,
}

if __name__ == "__main__":
    runner.main(WORKLOADS)
