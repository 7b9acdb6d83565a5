"""Benchmark: how long one `toprank ask` takes from a cold process, and what its imports cost.

    python -m toprank.bot.bench.startup [--runs 20] [--question "top OT codes 2022"] [--db PATH]

Runs the console script (`toprank` beside this Python, else `python -m toprank.bot.cli`) --runs
times after one untimed run (which also writes the bytecode caches an install has), each
a new process as a user's shell starts it, and prints per run the time until the answer's
first byte reached stdout ("answer") and until the process exited ("exit": the usage log
entry is written after the answer is printed), and the CPU time the process had used at
each point (a loaded machine inflates wall time, not CPU time). Then `python -X importtime` of one such
run: the imports that cost the most, top-level modules by cumulative time.

The usage log goes to a temporary state file (TOPRANK_STATE), never the user's own.
Figures depend on the machine and its load; the README quotes a run and its machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_QUESTION = "top OT codes 2022"
DEFAULT_RUNS = 20
TOP_IMPORTS = 12
# One line of `python -X importtime`: "import time: self | cumulative | <indent>name".
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


@dataclass(frozen=True)
class Run:
    answer_s: float  # start to the first byte of the answer on stdout
    exit_s: float  # start to the process's exit
    cpu_s: float  # the process's CPU time (user + system): what load on the machine hides
    answer_cpu_s: float | None  # its CPU time when the answer arrived (Linux: /proc)


@dataclass(frozen=True)
class ImportCost:
    module: str
    cumulative_ms: float


CLI_MODULE = "toprank.bot.cli"


def command(question: str, db: str | None, module: str | None = None) -> list[str]:
    """The console script as installed next to this interpreter, or `python -m module`
    (also when there is no script)."""
    script = Path(sys.executable).with_name("toprank")
    use_script = script.exists() and not module
    head = [str(script)] if use_script else [sys.executable, "-m", module or CLI_MODULE]
    return [*head, "ask", question, *(["--db", db] if db else [])]


def time_one(argv: Sequence[str], env: dict[str, str]) -> Run:
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, env=env)
        assert proc.stdout is not None
        first = proc.stdout.read(1)
        answered = time.perf_counter()
        answer_cpu = _cpu_so_far(proc.pid)
        rest = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # the exit and its resource usage
        ended = time.perf_counter()
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        if proc.returncode != 0 or not (first + rest).strip():
            errors.seek(0)
            said = errors.read().decode(errors="replace")[:300]
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {said}")
    return Run(answered - started, ended - started, usage.ru_utime + usage.ru_stime, answer_cpu)


def _cpu_so_far(pid: int) -> float | None:
    """User + system CPU seconds of a running process, from /proc (None elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)": state is field 3
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def import_costs(argv: Sequence[str], env: dict[str, str]) -> list[ImportCost]:
    """Top-level imports of one run by cumulative time (what a lazier import would save)."""
    script = argv[0]
    if Path(script).name == "toprank":  # the script is a Python file: run it with -X
        argv = [sys.executable, "-m", CLI_MODULE, *argv[1:]]
    else:
        argv = list(argv)
    proc = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], capture_output=True, text=True, env=env
    )
    costs = []
    for line in proc.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match and len(match.group(3)) == 1:  # not indented: imported by the program
            costs.append(ImportCost(match.group(4), int(match.group(2)) / 1000))
    return sorted(costs, key=lambda c: -c.cumulative_ms)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def report(runs: Sequence[Run], costs: Sequence[ImportCost], question: str) -> str:
    answers = [r.answer_s * 1000 for r in runs]
    exits = [r.exit_s * 1000 for r in runs]
    cpus = [r.cpu_s * 1000 for r in runs]
    answer_cpus = [r.answer_cpu_s * 1000 for r in runs if r.answer_cpu_s is not None]
    lines = [
        f"toprank ask {question!r}: {len(runs)} cold processes "
        f"(python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.1f})",
        f"{'':14}{'min':>8}{'p50':>8}{'p95':>8}{'max':>8}  ms",
    ]
    rows = [("to answer", answers), ("to exit", exits)]
    if answer_cpus:
        rows.append(("CPU to answer", answer_cpus))
    rows.append(("CPU to exit", cpus))
    for name, values in rows:
        lines.append(
            f"{name:14}{min(values):8.0f}{statistics.median(values):8.0f}"
            f"{percentile(values, 95):8.0f}{max(values):8.0f}"
        )
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        lines.append("(PYTHONDONTWRITEBYTECODE is set: every run compiles the sources again)")
    lines.append("")
    lines.append(f"imports of one run, top {TOP_IMPORTS} by cumulative time:")
    lines.extend(f"  {c.cumulative_ms:7.1f} ms  {c.module}" for c in costs[:TOP_IMPORTS])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m toprank.bot.bench.startup", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="timed runs (default 20)")
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("--db", help="the database (default: toprank's own default)")
    parser.add_argument(
        "--module",
        nargs="?",
        const=CLI_MODULE,
        metavar="NAME",
        help=f"run `python -m NAME` (default {CLI_MODULE}) instead of the console script; "
        "to compare versions, run from the other checkout's directory, and give bot.cli "
        "for a checkout from before the toprank. namespace",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be 1 or more")
    state = Path(tempfile.mkdtemp(prefix="toprank-bench-startup-"))
    env = {**os.environ, "TOPRANK_STATE": str(state / "state.sqlite")}
    argv_ = command(args.question, args.db, args.module)
    try:
        time_one(argv_, env)  # untimed: bytecode caches, the page cache, a demo build
        runs = [time_one(argv_, env) for _ in range(args.runs)]
        costs = import_costs(argv_, env)
    except (RuntimeError, OSError) as error:
        print(f"bench startup: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(state, ignore_errors=True)
    print(report(runs, costs, args.question))
    return 0


if __name__ == "__main__":
    sys.exit(main())
