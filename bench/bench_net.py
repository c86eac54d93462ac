"""Echo servers under load, measured by the project's reference harness
(loopbench, ../shared/loopbench by default): this script runs it for the C
epoll server, asyncio, upstream uvloop and ours, and reports its figures as
medians and paired ratios like the other bench scripts.

The headline is `cpu_us/req`: the server process's user + system CPU time per
request (per datagram for UDP), from /proc. See README.md for why the harness
is driven rather than reimplemented here."""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import runner

DEFAULT_LOOPBENCH = runner.REPO_ROOT.parent / "shared" / "loopbench"

# bench/ workload name -> the harness's case name.
CASES = {
    "tcp-proto-1k": "tcp_proto_1KiB",
    "tcp-proto-10k": "tcp_proto_10KiB",
    "tcp-proto-100k": "tcp_proto_100KiB",
    "tcp-streams-1k": "tcp_streams_1KiB",
    "unix-proto-1k": "unix_proto_1KiB",
    "udp-100b": "udp_100B",
}
# The harness's result key -> our metric name.
METRICS = {"rps": "req/s", "server_us_per_req": "cpu_us/req"}
# The harness flags a result whose client used this much of a core: the
# client, not the server, may have been the bottleneck.
CLIENT_BOUND = 0.9

C_SERVER = "c"
KINDS = (C_SERVER, *runner.KINDS)
RATIOS = (("ours", C_SERVER), ("ours", "upstream"), ("ours", "asyncio"),
          (C_SERVER, "asyncio"), ("upstream", "asyncio"))


def _add_arguments(parser):
    parser.add_argument("--loopbench", default=str(DEFAULT_LOOPBENCH),
                        help="the reference harness's directory (default %(default)s)")
    parser.add_argument("--duration", type=float, default=5.0,
                        help="measured seconds per run (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=0.5,
                        help="seconds of load before the measured window, in the same"
                             " client session (default %(default)s)")
    parser.set_defaults(rounds=3)  # the harness's own default


def _harness_loops(loops):
    """The harness's --loop arguments: the C server, then every available
    Python loop (all three kinds run as the harness's uvloop or asyncio)."""
    argv = ["--loop", C_SERVER, "-", "cserver"]
    for loop in loops:
        argv += ["--loop", loop.kind, loop.python,
                 "asyncio" if loop.kind == "asyncio" else "uvloop"]
    return argv


def _run_harness(args, loops, names):
    run = Path(args.loopbench) / "run"
    if not run.is_file():
        sys.exit(f"no reference harness at {run} (pass --loopbench DIR)")
    only = "^(%s)$" % "|".join(re.escape(CASES[n]) for n in names)
    with tempfile.TemporaryDirectory(prefix="bench-net-") as tmp:
        out = Path(tmp) / "loopbench.json"
        command = [sys.executable, str(run), "--reps", str(args.rounds),
                   "--duration", str(args.duration), "--warmup", str(args.warmup),
                   "--only", only, "--json", str(out), *_harness_loops(loops)]
        # Run from an empty directory: the harness probes loops with
        # `python -c`, which would import uvloop/ from a checkout's root.
        # Its progress and its own table go to stderr; stdout is ours.
        proc = subprocess.run(command, cwd=tmp, stdout=sys.stderr)
        if proc.returncode != 0:
            sys.exit(f"the reference harness failed (exit {proc.returncode})")
        return json.loads(out.read_text())


def _samples(data, names):
    """{(workload, metric): {kind: {rep: value}}} from the harness's runs;
    failed runs are reported and left out."""
    workload = {CASES[n]: n for n in names}
    samples = {(n, m): {} for n in names for m in METRICS.values()}
    client_bound = []
    for run in data["runs"]:
        name, kind, rep, result = (workload[run["case"]], run["label"], run["rep"],
                                   run["result"])
        if "error" in result:
            print(f"FAILED {name} {kind} rep {rep}: {result['error']}", file=sys.stderr)
            continue
        for key, metric in METRICS.items():
            samples[(name, metric)].setdefault(kind, {})[rep] = result[key]
        if result.get("client_cpu", 0) >= CLIENT_BOUND:
            client_bound.append(f"{name} {kind} rep {rep}")
    return samples, client_bound


def _origins(data, loops):
    origins = {loop.kind: loop.origin for loop in loops}
    probes = dict(zip((label for label, _, _ in data["loops"]), data["meta"]["probes"]))
    origins[C_SERVER] = probes[C_SERVER]
    return origins


def main():
    if sys.argv[1:2] == ["--probe"]:
        runner.main({})  # child side: which uvloop this interpreter provides
        return
    args = runner.parse_args(_add_arguments)
    unknown = set(args.only or ()) - set(CASES)
    if unknown:
        sys.exit(f"unknown workload(s) {sorted(unknown)}; have {list(CASES)}")
    names = [n for n in CASES if not args.only or n in args.only]
    loops = runner.available_loops(args, os.path.abspath(__file__))
    data = _run_harness(args, loops, names)
    samples, client_bound = _samples(data, names)
    rows = runner.summarize(samples, KINDS, RATIOS)
    origins = _origins(data, loops)
    runner.print_sources(loops)
    print(f"{C_SERVER:<9} {origins[C_SERVER]['loop_class']}, the harness's C echo server")
    meta = data["meta"]
    print(f"loopbench run {meta['date']}, {meta['wall']:.0f} s,"
          f" load average {meta['load_start']} -> {meta['load_end']}")
    runner.print_table(rows, KINDS, RATIOS)
    print("cpu_us/req: server CPU (user + system) per request, per datagram for UDP;"
          " c: only for the protocol and UDP servers.")
    if client_bound:
        print(f"client >= {CLIENT_BOUND:.0%} of a core (maybe client-bound): "
              + ", ".join(client_bound))
    if args.json:
        runner.save_json(args.json, rows, origins, args,
                         loopbench=data)


if __name__ == "__main__":
    main()
