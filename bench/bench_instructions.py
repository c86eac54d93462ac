"""Instructions per operation, counted by valgrind's callgrind: the same
numbers run after run, whatever else the machine is doing.

Each workload runs twice per loop, for a short and a long count of
operations, each time in a fresh process under `valgrind --tool=callgrind`;
instructions per operation = (Ir_long - Ir_short) / (ops_long - ops_short),
so interpreter start-up, imports and loop creation cancel out. Ir counts
user-space instructions only: the kernel's share of a syscall is not in it.

Core workloads count one operation as:
  call_soon        a call_soon(no-op) and its dispatch (batches of 1,000)
  call_soon_chain  a callback that call_soon's the next one: a loop iteration
                   per call
  call_later       a call_later(1 to 10 ms, seeded random) and its firing
                   (batches of 1,000)
  call_later_chain a timer that call_later(1 ms)'s the next one: a loop
                   iteration waiting for each timer
  task_switch      a task awaiting a future that a call_soon callback resolves
  sleep0           a task's `await asyncio.sleep(0)`
  threadsafe       a call_soon_threadsafe(no-op) from the loop's own thread and
                   its dispatch (batches of 1,000)
  done_callback    a future created, given a done-callback, resolved, and the
                   callback run (batches of 1,000)
Echo workloads run the server under callgrind and the C client
(build/echoclient) in its own process: one connection, a fixed number of
requests, each sent once the server sleeps in its wait for input (so every
request takes it through one loop iteration, however fast either side runs);
one operation is one request echoed:
  tcp-proto-1k     asyncio.Protocol echo over TCP, 1 KiB
  unix-proto-1k    the same over a Unix socket
  udp-100b         DatagramProtocol echo, 100 B

    python3 bench/bench_instructions.py [--json FILE] [--only WORKLOAD]...
        [--ours-python PY] [--upstream-python PY] [--no-asyncio]
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import instructions_child
import runner

HOST = instructions_child.HOST
CHILD = runner.BENCH_DIR / "instructions_child.py"
ECHOCLIENT = runner.BENCH_DIR / "build" / "echoclient"
# Generous: callgrind runs Python some 50 times slower.
CHILD_TIMEOUT = 600


# Workload -> (short, long) operation counts. Short is past the first
# operations' one-off costs (allocations, specialisation); the difference is
# large enough that a few thousand instructions of jitter stay below 0.1%.
CORE = {
    "call_soon": (5_000, 25_000),
    "call_soon_chain": (5_000, 25_000),
    "call_later": (5_000, 25_000),
    # Each operation waits for its 1 ms timer: few, to keep the run short.
    "call_later_chain": (500, 1_500),
    "task_switch": (2_000, 12_000),
    "sleep0": (2_000, 12_000),
    "threadsafe": (5_000, 25_000),
    "done_callback": (5_000, 25_000),
}
# Echo workload -> (server, message bytes, (short, long) requests).
ECHO = {
    "tcp-proto-1k": ("tcp", 1024, (2_000, 6_000)),
    "unix-proto-1k": ("unix", 1024, (2_000, 6_000)),
    "udp-100b": ("udp", 100, (2_000, 6_000)),
}


class CountError(RuntimeError):
    pass


def _callgrind(loop, out_file, argv):
    """The command running instructions_child.py's `argv` for `loop` under
    callgrind."""
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
            loop.python, str(CHILD), loop.kind, *argv]


# A fixed hash seed: str hashes decide dict and set layouts, and so the
# instructions spent probing them.
ENV = {**os.environ, "PYTHONHASHSEED": "0"}


def _total(out_file):
    match = re.search(rb"^totals: (\d+)", Path(out_file).read_bytes(), re.M)
    if not match:
        raise CountError(f"no totals in {out_file}")
    return int(match[1])


def _check(returncode, stderr, what):
    if returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise CountError(f"{what}: exit {returncode}\n{tail}")


def _count_core(loop, workload, n, tmp):
    out = Path(tmp) / f"{loop.kind}-{workload}-{n}.cg"
    proc = subprocess.run(_callgrind(loop, out, [workload, str(n)]), env=ENV,
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    _check(proc.returncode, proc.stderr, f"{workload} {n}")
    return _total(out)


def _build_echoclient():
    subprocess.run(["make", "-s", "-C", str(runner.BENCH_DIR), "build/echoclient"],
                   stdout=sys.stderr, check=True)


def _count_echo(loop, workload, n, tmp):
    server, msize, _ = ECHO[workload]
    out = Path(tmp) / f"{loop.kind}-{workload}-{n}.cg"
    path = str(Path(tmp) / f"{loop.kind}-{workload}-{n}.sock")
    with subprocess.Popen(_callgrind(loop, out, ["serve", server, path]),
                          env=ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            ready, _, _ = select.select([proc.stdout], [], [], CHILD_TIMEOUT)
            line = proc.stdout.readline() if ready else ""
            if not line:
                raise CountError(f"{workload} server reported no address")
            port = json.loads(line)["port"]
            target = (["--unix", path] if server == "unix"
                      else ["--host", HOST, "--port", str(port)])
            if server == "udp":
                # Under callgrind an echo can take long; a resend would be
                # extra work in one run only.
                target += ["--udp", "--resend-after", "60"]
            client = subprocess.run(
                [str(ECHOCLIENT), *target, "--conns", "1", "--msize", str(msize),
                 "--requests", str(n), "--duration", str(CHILD_TIMEOUT),
                 "--wait-idle", str(proc.pid)],
                capture_output=True, text=True, timeout=CHILD_TIMEOUT + 30)
            _check(client.returncode, client.stderr, f"{workload} client")
            if json.loads(client.stdout).get("resends"):
                raise CountError(f"{workload}: the client resent datagrams")
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=CHILD_TIMEOUT)
        except BaseException:
            proc.kill()
            raise
    _check(proc.returncode, stderr, f"{workload} server")
    return _total(out)


def _op_counts(workload):
    return CORE[workload] if workload in CORE else ECHO[workload][2]


def _count(loop, workload, n, tmp):
    """Total instructions of one run; a CountError's message if it failed."""
    count = _count_core if workload in CORE else _count_echo
    try:
        total = count(loop, workload, n, tmp)
    except (CountError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    print(f"{workload:<14} {loop.kind:<8} {n:>6} ops  {total:>13,} Ir",
          file=sys.stderr, flush=True)
    return total


def _measure_all(loops, workloads, jobs, tmp):
    """{(workload, kind): (Ir short, Ir long)}, the runs spread over `jobs`
    processes at a time (counts do not depend on what runs beside them); a
    failed pair is reported and left out."""
    runs = [(loop, w, n) for w in workloads for loop in loops for n in _op_counts(w)]
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        totals = list(pool.map(lambda run: _count(*run, tmp), runs))
    by_pair = {}
    for (loop, workload, _), total in zip(runs, totals):
        by_pair.setdefault((workload, loop.kind), []).append(total)
    counts = {}
    for (workload, kind), pair in by_pair.items():
        errors = [t for t in pair if isinstance(t, str)]
        if errors:
            print(f"{workload} {kind} FAILED: {errors[0]}", file=sys.stderr)
        else:
            counts[(workload, kind)] = pair
    return counts


RATIOS = (("ours", "upstream"), ("ours", "asyncio"), ("upstream", "asyncio"))


def _parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="WORKLOAD",
                        choices=[*CORE, *ECHO], help="run only this workload (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also save the counts here")
    parser.add_argument("--ours-python", default=str(runner.DEFAULT_OURS_PYTHON),
                        help="interpreter with our uvloop installed; also runs"
                             " asyncio (default %(default)s)")
    parser.add_argument("--upstream-python", default=str(runner.DEFAULT_UPSTREAM_PYTHON),
                        help="interpreter with upstream uvloop (default %(default)s)")
    parser.add_argument("--no-asyncio", action="store_true",
                        help="skip asyncio's loop (about a third of the time)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="processes under callgrind at a time (default %(default)s)")
    return parser.parse_args()


def _print_table(rows, kinds):
    header = ["workload", *kinds, *(f"{a}/{b}" for a, b in RATIOS)]
    table = [header]
    for row in rows:
        table.append([row["workload"],
                      *(f"{row['per_op'][k]:,.0f}" if k in row["per_op"] else "-"
                        for k in kinds),
                      *(f"{row['ratio'][f'{a}/{b}']:.3f}x"
                        if row["ratio"].get(f"{a}/{b}") else "-" for a, b in RATIOS)])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print()
    for r in table:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))
    print("\ninstructions per operation (user space, callgrind Ir); ratios below 1:"
          " the first loop runs fewer instructions.")


def main():
    if sys.argv[1:2] == ["--probe"]:
        runner.main({})  # child side: which uvloop this interpreter provides
        return
    args = _parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind not found (apt-get install -y valgrind)")
    loops = runner.available_loops(args, os.path.abspath(__file__))
    if args.no_asyncio:
        loops = [loop for loop in loops if loop.kind != "asyncio"]
    if not loops:
        sys.exit("no loop to measure")
    workloads = [w for w in [*CORE, *ECHO] if not args.only or w in args.only]
    kinds = [loop.kind for loop in loops]
    if any(w in ECHO for w in workloads):
        _build_echoclient()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-instr-") as tmp:
        counts = _measure_all(loops, workloads, args.jobs, tmp)
    rows = []
    for workload in workloads:
        ops = _op_counts(workload)
        totals = {k: counts[(workload, k)] for k in kinds if (workload, k) in counts}
        per_op = {k: (t[1] - t[0]) / (ops[1] - ops[0]) for k, t in totals.items()}
        rows.append({"workload": workload, "metric": "instructions/op",
                     "ops": list(ops), "Ir": totals, "per_op": per_op,
                     "ratio": {f"{a}/{b}": per_op[a] / per_op[b] for a, b in RATIOS
                               if a in per_op and b in per_op}})
    runner.print_sources(loops)
    _print_table(rows, kinds)
    seconds = time.monotonic() - started
    print(f"({seconds:.0f} s)")
    if args.json:
        data = {"script": Path(sys.argv[0]).name,
                "date": datetime.datetime.now().isoformat(timespec="seconds"),
                "seconds": round(seconds),
                "valgrind": subprocess.run(["valgrind", "--version"], capture_output=True,
                                           text=True).stdout.strip(),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "loops": {loop.kind: loop.origin for loop in loops},
                "results": rows}
        Path(args.json).write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
