"""The `brixcheck` command: parse, call a library function, map errors to exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version

from brixcheck.config.flags import add_flags
from brixcheck.config.schema import StackOptions, TargetOptions, TwinOptions
from brixcheck.errors import BrixcheckError
from brixcheck.resources import HISTORY_NAME

# A user error (bad input, unreachable cluster) exits 2, apart from `compare`'s 1 = regression.
USER_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brixcheck", description=__doc__)
    parser.add_argument("--version", action="version",
                        version=f"brixcheck {version('brixcheck')}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)
    _engine_parser(commands)
    suite_options = ("Every further argument goes to pytest, e.g. -k NAME, --kubeconfig PATH, "
                     "--keep, --junitxml FILE; brixcheck's own pytest options are listed under "
                     "'brixcheck' in `pytest --help`.")
    commands.add_parser("conformance", help="the main job: run the conformance suite against "
                                            "$KUBECONFIG, else the twin (built and started if "
                                            "needed); further arguments go to pytest",
                        description=suite_options)
    bench = commands.add_parser(
        "bench", help="run the benchmark scenarios (pytest suites/benchmark); further "
        "arguments go to pytest", description=suite_options + " Scenarios: "
        "suites/benchmark/scenarios (or $BRIXCHECK_SCENARIO_DIR); results history: "
        "reports/history.sqlite (--history-db).")
    bench.add_argument("--compare-strategies", action="store_true",
                       help="the strategy shoot-out: the scenarios of suites/shootout (every "
                            "AIBrix strategy and vllm-router policy, prefix-sharing and "
                            "multi-turn chat workloads) instead of suites/benchmark/scenarios")
    _twin_parser(commands)
    _stack_parser(commands)
    _compare_parser(commands)
    _doctor_parser(commands)
    return parser


def _engine_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from brixcheck.engine.args import flags_help

    engine = commands.add_parser("engine", help="the vLLM-compatible engine emulator")
    engine_cmds = engine.add_subparsers(dest="engine_command", required=True)
    run = engine_cmds.add_parser(
        "run", help="serve one engine; every further argument is a vLLM server flag",
        description="Example: brixcheck engine run --model m --port 8000 "
                    "--gpu-memory-utilization 0.7 --emu-profile rtx4060-8gb",
        epilog=flags_help(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--log", help="write the engine log to this file instead of stderr")
    host = engine_cmds.add_parser("host", help="serve many engines behind a control API")
    host.add_argument("--control", default="127.0.0.1:7070", help="control API host:port")
    host.add_argument("--spec", help='JSON {"name": {"args": [...], "host": ..., "log": ...}}')
    engine_cmds.add_parser("demo", help="two engines on loopback, one streamed request")


def _twin_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    twin = commands.add_parser("twin", help="the hardware-free cluster twin")
    # The metavar leaves out `backer`, the twin's internal process, which has no help line.
    twin_cmds = twin.add_subparsers(dest="twin_command", required=True,
                                    metavar="{build,up,down,status,scenario}")
    twin_cmds.add_parser("build", help="build the upstream programs (cached by version)")
    twin_up = twin_cmds.add_parser("up", help="start the twin (idempotent)")
    add_flags(twin_up.add_argument, TwinOptions, prefix="")  # pytest's are --twin-*
    twin_cmds.add_parser("down", help="stop the twin and remove its files")
    twin_cmds.add_parser("status", help="show what runs")
    backer = twin_cmds.add_parser("backer")
    backer.add_argument("--time-factor", type=float, default=0.1)
    backer.add_argument("--engine", choices=("emulator", "vllm"), default="emulator")
    backer.add_argument("--gateway-plugin", default="")
    _scenario_parser(twin_cmds)


def _scenario_parser(twin_cmds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scenario = twin_cmds.add_parser("scenario", help="turn a troubleshooting case on or off "
                                                     "(`brixcheck twin scenario list`)")
    scenario.add_argument("scenario", help="scenario name, or `list`")
    scenario.add_argument("state", nargs="?", choices=("on", "off"), help="on or off")


def _stack_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stack = commands.add_parser("stack", help="install, inspect or remove the AIBrix stack")
    stack.add_argument("stack_command", choices=("install", "status", "uninstall"),
                       help="install (idempotent; a foreign install is left alone), status, "
                            "or uninstall (only what brixcheck installed)")
    add_flags(stack.add_argument, TargetOptions, only=["kubeconfig"])
    add_flags(stack.add_argument, StackOptions, only=["release", "small"])
    stack.add_argument("--timeout", type=float, default=300.0,
                       help="seconds to wait for every Deployment to be Available")


def _doctor_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = commands.add_parser("doctor", help="diagnose the cluster: causes and remedies")
    add_flags(doctor.add_argument, TargetOptions, only=["kubeconfig"])
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")


def _compare_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compare = commands.add_parser(
        "compare", help="nightly gate: flag significant regressions between two stored runs",
        description="Exit 1 when a metric of the candidate is significantly worse than the "
                    "baseline (one-sided test at --alpha) by more than its tolerance, 2 when "
                    "it cannot judge (no or damaged history, candidate not VALID), else 0.")
    compare.add_argument("--db", default=None,
                         help="results history (SQLite path; default: the one benchmark runs "
                              f"write, {HISTORY_NAME} in reports/)")
    compare.add_argument("--list", action="store_true",
                         help="list the stored runs (id, start, status, scenario) and exit")
    compare.add_argument("--baseline", default="latest-before",
                         help="run id, or latest-before (newest earlier VALID run, same "
                              "environment fingerprint)")
    compare.add_argument("--candidate", default="latest", help="run id, or latest")
    compare.add_argument("--alpha", type=_probability, default=0.01,
                         help="significance level, between 0 and 1 (default 0.01)")
    compare.add_argument("--tolerance", action="append", default=[], metavar="METRIC=PCT",
                         help="override a tolerance, e.g. ttft_ms_p99=15 (repeatable)")
    compare.add_argument("--trend", metavar="PNG", help="also draw the metrics across runs")


def _probability(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1 (e.g. 0.05 for 5 %)")
    return value


def _dispatch(ns: argparse.Namespace, extra: list[str]) -> int:
    """Run the chosen command; 2 when none matched."""
    if ns.command == "engine":
        from brixcheck.engine.engine_cli import main_engine

        return main_engine(ns.engine_command, extra,
                           getattr(ns, "log", None), getattr(ns, "control", ""),
                           getattr(ns, "spec", None))
    if ns.command in ("bench", "conformance"):
        from brixcheck.suite_run import run_suite

        if getattr(ns, "compare_strategies", False):
            from brixcheck.bench.scenario import SCENARIO_DIR_ENV, shootout_dir

            os.environ[SCENARIO_DIR_ENV] = str(shootout_dir())
        return run_suite(ns.command, extra)
    if ns.command == "twin":
        from brixcheck.twin.twin_cli import main_twin

        return main_twin(ns.twin_command, getattr(ns, "nodes", ""),
                         getattr(ns, "time_factor", None), getattr(ns, "scenario", ""),
                         getattr(ns, "state", None), getattr(ns, "engine", "emulator"),
                         getattr(ns, "gateway_plugin", ""))
    if ns.command == "compare":
        from brixcheck.history.compare_cli import main_compare

        return main_compare(ns)
    if ns.command == "stack":
        from brixcheck.installer.stack_cli import main_stack

        return main_stack(ns.stack_command, ns.kubeconfig, ns.aibrix_release, ns.aibrix_small,
                          ns.timeout)
    if ns.command == "doctor":
        from brixcheck.doctor.doctor_cli import main_doctor

        return main_doctor(ns.kubeconfig, ns.json)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    ns, extra = parser.parse_known_args(argv)
    passthrough = ns.command in ("bench", "conformance") or (
        ns.command == "engine" and ns.engine_command == "run")
    if extra and not passthrough:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return _dispatch(ns, extra)
    except BrixcheckError as exc:
        if ns.debug:
            raise
        print(f"brixcheck: {exc}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`brixcheck twin status | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
