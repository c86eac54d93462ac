"""Shared harness for the bench scripts (stdlib only).

A bench script defines *workloads*, functions that run inside a child process
for one loop kind, and hands them to `main()`:

    def call_soon(new_loop):           # new_loop() -> a fresh event loop
        ...
        return {"callbacks/s": n / elapsed}

    if __name__ == "__main__":
        runner.main({"call_soon": call_soon})

The parent process launches every measurement as a fresh child with the
interpreter of that loop kind:

    asyncio   asyncio's default loop, run by our project's python
    upstream  uvloop from PyPI, in bench/.venv-upstream (see setup-upstream)
    ours      this project's uvloop, installed in the project's .venv

It repeats the set in rotated order round after round (A B C, B C A, ...) so
that machine drift hits every loop alike, and prints medians and ratios.
Single runs drift 15-20% on a small shared machine; only medians mean much.

Scripts whose measurement happens outside the child (a load generator against
a server child, say) pass `benchmarks`: parent-side functions given a
`LoopKind` to start children with, see `main()`.
"""

import argparse
import asyncio
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_OURS_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
DEFAULT_UPSTREAM_PYTHON = BENCH_DIR / ".venv-upstream" / "bin" / "python"

# Table column order; also the order of the first round.
KINDS = ("asyncio", "upstream", "ours")
# The parent tells each child which loop it is meant to run, so a child can
# refuse to measure upstream's uvloop under the name "ours" (and vice versa).
ENV_KIND = "UVLOOP_BENCH_KIND"


class ChildError(RuntimeError):
    """A child process failed to deliver its measurement."""


# --------------------------------------------------------------------------
# Child side


def _uvloop_origin(uvloop):
    """Where the imported uvloop came from, and whether it is upstream's.

    Upstream is the wheel pip fetched from PyPI; pip records no
    direct_url.json for index installs (PEP 610). Ours is either imported from
    this checkout's uvloop/ or installed from a local path or wheel, which pip
    does record with a direct_url.json.
    """
    file = Path(uvloop.__file__).resolve()
    try:
        dist = importlib.metadata.distribution("uvloop")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    from_index = dist is not None and dist.read_text("direct_url.json") is None
    return {
        "uvloop": str(file),
        "version": dist.version if dist else getattr(uvloop, "__version__", "?"),
        "upstream": from_index and not file.is_relative_to(REPO_ROOT / "uvloop"),
    }


def _load_loop(kind):
    """Return (new_loop factory, origin dict) for `kind`, or exit if the
    interpreter cannot provide that loop."""
    origin = {"python": platform.python_version(), "executable": sys.executable}
    if kind == "asyncio":
        return asyncio.new_event_loop, {**origin, "uvloop": None}
    try:
        import uvloop
    except Exception as exc:  # a half-built package can fail in many ways
        sys.exit(f"import uvloop failed: {type(exc).__name__}: {exc}")
    origin.update(_uvloop_origin(uvloop))
    if origin["upstream"] != (kind == "upstream"):
        which = "upstream's" if origin["upstream"] else "not upstream's"
        sys.exit(f"refusing to run as {kind!r}: the uvloop at {origin['uvloop']}"
                 f" (version {origin['version']}) is {which}")
    return uvloop.new_event_loop, origin


_origin = {}


def report(metrics):
    """Print one JSON line for the parent; every line names the loop's origin
    so results can be traced to the package that produced them."""
    print(json.dumps({**metrics, "origin": _origin}), flush=True)


def _child_main(workloads, argv):
    """`script --probe` or `script --child WORKLOAD [ARGS...]`."""
    kind = os.environ.get(ENV_KIND)
    if kind not in KINDS:
        sys.exit(f"{ENV_KIND} must be one of {KINDS}, got {kind!r}")
    new_loop, origin = _load_loop(kind)
    _origin.update(origin)
    if argv[0] == "--probe":
        report({})
        return
    name, *args = argv[1:]
    metrics = workloads[name](new_loop, *args)
    if metrics is not None:
        report(metrics)


# --------------------------------------------------------------------------
# Parent side


def _describe_exit(returncode, stderr=""):
    """Why a child failed: the last stderr line carries the exception or
    sys.exit() message; a crash in compiled loop code shows up as a signal,
    often with no output at all."""
    last_line = stderr.strip().splitlines()[-1:]
    if returncode < 0:
        return ": ".join([f"killed by {signal.Signals(-returncode).name}", *last_line])
    return last_line[0] if last_line else f"exit code {returncode}"


def _parse_report(line):
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        raise ChildError(f"expected a JSON line, got {line!r}") from None


@dataclass
class LoopKind:
    """One loop kind's interpreter, able to start bench-script children."""

    kind: str
    python: str
    script: str
    origin: dict = None

    def _command(self, *argv):
        return [self.python, self.script, *argv]

    def _env(self):
        return {**os.environ, ENV_KIND: self.kind}

    def probe(self):
        """Check the interpreter provides this loop and note where it comes
        from; raise ChildError saying why not."""
        self.origin = self._run("--probe")["origin"]

    def run(self, workload, *args):
        """Run a workload to completion; return the JSON line it reported."""
        return self._run("--child", workload, *args)

    def _run(self, *argv, timeout=120):
        try:
            proc = subprocess.run(self._command(*argv), env=self._env(),
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ChildError(f"no result within {timeout} s") from None
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise ChildError(_describe_exit(proc.returncode, proc.stderr))
        return _parse_report(lines[-1])

    @contextlib.contextmanager
    def serve(self, workload, *args, timeout=30):
        """Start a long-running workload (a server); yield (process, the first
        JSON line it reports, e.g. its address) and terminate it on exit.

        Its stderr is inherited: a server may log without bound, and a pipe
        nobody reads would eventually block it.
        """
        proc = subprocess.Popen(self._command("--child", workload, *args),
                                env=self._env(), stdout=subprocess.PIPE, text=True)
        try:
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            line = proc.stdout.readline() if ready else ""
            if not line:
                status = ("still running" if proc.poll() is None
                          else _describe_exit(proc.returncode))
                raise ChildError(f"server reported no address ({status})")
            yield proc, _parse_report(line)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def parse_args(add_arguments):
    parser = argparse.ArgumentParser(
        description=sys.modules["__main__"].__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5,
                        help="measurements per loop and workload (default %(default)s)")
    parser.add_argument("--only", action="append", metavar="WORKLOAD",
                        help="run only this workload (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also save all samples here")
    parser.add_argument("--ours-python", default=str(DEFAULT_OURS_PYTHON),
                        help="interpreter with our uvloop installed; also runs"
                             " asyncio (default %(default)s)")
    parser.add_argument("--upstream-python", default=str(DEFAULT_UPSTREAM_PYTHON),
                        help="interpreter with upstream uvloop (default %(default)s,"
                             " made by bench/setup-upstream)")
    if add_arguments:
        add_arguments(parser)
    return parser.parse_args()


def _interpreters(args):
    """Interpreter per loop kind. asyncio runs under our python, so that it and
    ours share one Python build; until that venv exists, under this one."""
    ours = shutil.which(args.ours_python)
    return {
        "asyncio": ours or sys.executable,
        "upstream": shutil.which(args.upstream_python),
        "ours": ours,
    }


_SKIP_HINT = {
    "upstream": "\n  (run bench/setup-upstream, or pass --upstream-python)",
    "ours": "\n  (install the project into .venv, e.g. `.venv/bin/pip install -e .`,"
            " or pass --ours-python)",
}


def available_loops(args, script):
    """Probe every kind; return the usable LoopKinds, telling why others are
    skipped."""
    loops = []
    for kind, python in _interpreters(args).items():
        loop = LoopKind(kind, python, script)
        try:
            if python is None:
                raise ChildError(f"{getattr(args, f'{kind}_python')} not found")
            loop.probe()
        except ChildError as exc:
            hint = _SKIP_HINT.get(kind, "")
            print(f"skipping {kind}: {exc}{hint}", file=sys.stderr)
            continue
        loops.append(loop)
    return loops


def _rotated(items, shift):
    shift %= len(items)
    return items[shift:] + items[:shift]


def _measure_all(benchmarks, loops, args):
    """Run every benchmark for every loop, `args.rounds` times, the loop order
    rotating each round; return {(benchmark, metric): {kind: {round: value}}}
    (a failed run leaves its round out)."""
    samples = {}
    for round_no in range(args.rounds):
        for name, benchmark in benchmarks.items():
            for loop in _rotated(loops, round_no):
                print(f"round {round_no + 1}/{args.rounds}  {name:<16} {loop.kind:<8}",
                      end="  ", file=sys.stderr, flush=True)
                try:
                    metrics = benchmark(loop, args)
                except ChildError as exc:
                    print(f"FAILED: {exc}", file=sys.stderr)
                    continue
                print("  ".join(f"{m} {_fmt(v)}" for m, v in metrics.items()),
                      file=sys.stderr)
                for metric, value in metrics.items():
                    samples.setdefault((name, metric), {}).setdefault(
                        loop.kind, {})[round_no] = value
    return samples


def _fmt(value):
    if value is None:
        return "-"
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{suffix}"
    return f"{value:.3g}"


def _median(values):
    return statistics.median(values) if values else None


def _paired_ratio(numerator, denominator):
    """Median over rounds of numerator / denominator within the same round.
    The runs of one round are seconds apart, so the machine's slow drift
    (up to several-fold over minutes here) cancels out of each ratio."""
    return _median([value / denominator[r] for r, value in numerator.items()
                    if denominator.get(r)])


# Ratio columns: (numerator, denominator). upstream/asyncio is context: it
# shows the harness reproduces upstream's known advantage.
RATIOS = (("ours", "asyncio"), ("ours", "upstream"), ("upstream", "asyncio"))


def summarize(samples, kinds=KINDS, ratios=RATIOS):
    """Rows of medians per kind and paired ratios, from `samples` as
    {(workload, metric): {kind: {round: value}}}."""
    rows = []
    for (name, metric), per_kind in samples.items():
        median = {k: _median(list(per_kind.get(k, {}).values())) for k in kinds}
        ratio = {f"{a}/{b}": _paired_ratio(per_kind.get(a, {}), per_kind.get(b, {}))
                 for a, b in ratios}
        rows.append({"workload": name, "metric": metric, "samples": per_kind,
                     "median": median, "ratio": ratio})
    return rows


def print_sources(loops):
    for loop in loops:
        origin = loop.origin
        source = (f"uvloop {origin['version']} from {origin['uvloop']}"
                  if origin["uvloop"] else origin["executable"])
        print(f"{loop.kind:<9} python {origin['python']}, {source}")


def print_table(rows, kinds=KINDS, ratios=RATIOS):
    ratio_names = [f"{a}/{b}" for a, b in ratios]
    header = ["workload", "metric", *kinds, *ratio_names]
    table = [header] + [
        [r["workload"], r["metric"], *(_fmt(r["median"][k]) for k in kinds),
         *(_fmt_ratio(r["ratio"][n]) for n in ratio_names)]
        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print()
    for row in table:
        print("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))))
    print("\nloop columns: medians over rounds. ratios: median over rounds of the"
          " ratio within a round.\nFor rates (*/s) above 1 is faster; for costs"
          " (cpu_us/req) below 1 is cheaper.")


def _fmt_ratio(ratio):
    return "-" if ratio is None else f"{ratio:.2f}x"


def save_json(path, rows, origins, args, **extra):
    """Write the rows with where each loop came from ({kind: origin}) and any
    `extra` top-level entries."""
    data = {
        "script": Path(sys.argv[0]).name,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "rounds": args.rounds,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "loops": origins,
        "results": rows,
        **extra,
    }
    Path(path).write_text(json.dumps(data, indent=1) + "\n")


def _run_to_completion(name):
    def benchmark(loop, args):
        metrics = loop.run(name)
        del metrics["origin"]
        return metrics
    return benchmark


def main(workloads, benchmarks=None, add_arguments=None):
    """Entry point of a bench script, both as parent and as child.

    workloads: {name: fn(new_loop, *args) -> metrics dict or None}, run in a
        child; a workload that serves calls report() itself.
    benchmarks: parent side, {name: fn(loop: LoopKind, args) -> metrics dict},
        for measurements taken outside the child. Default: one per workload,
        running it to completion and taking the metrics it returns.
    add_arguments: fn(argparse parser) adding the script's own options.
    """
    if len(sys.argv) > 1 and sys.argv[1] in ("--child", "--probe"):
        _child_main(workloads, sys.argv[1:])
        return
    args = parse_args(add_arguments)
    if benchmarks is None:
        benchmarks = {name: _run_to_completion(name) for name in workloads}
    unknown = set(args.only or ()) - set(benchmarks)
    if unknown:
        sys.exit(f"unknown workload(s) {sorted(unknown)}; have {list(benchmarks)}")
    if args.only:
        benchmarks = {n: b for n, b in benchmarks.items() if n in args.only}
    loops = available_loops(args, os.path.abspath(sys.argv[0]))
    if not loops:
        sys.exit("no loop to measure")
    rows = summarize(_measure_all(benchmarks, loops, args))
    print_sources(loops)
    print_table(rows)
    if args.json:
        save_json(args.json, rows, {loop.kind: loop.origin for loop in loops}, args)
