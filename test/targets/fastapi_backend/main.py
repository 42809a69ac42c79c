"""Starts the generations backend under uvicorn on 127.0.0.1, on a port it binds itself.

The first line on stdout is the API's base URL (`http://127.0.0.1:PORT/api`); uvicorn's own log
goes to stderr and its access log to `--access-log` (stderr when not given).

    python main.py [--fault a,b] [--generation-ms N] [--heartbeat-ms N] [--stream-max-ms N]
                   [--token-ttl-ms N] [--rate-window-ms N] [--rate-limit N] [--access-log PATH]
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]
from app import FAULTS, Settings, Timings, create_app  # noqa: E402
from uvicorn_target import run_on_free_port  # noqa: E402


def parse_args(argv):
    defaults = Timings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fault", default="", help=f"comma-separated faults: {', '.join(FAULTS)}")
    parser.add_argument("--generation-ms", type=int, default=defaults.generation_ms)
    parser.add_argument("--heartbeat-ms", type=int, default=defaults.heartbeat_ms)
    parser.add_argument("--stream-max-ms", type=int, default=defaults.stream_max_ms)
    parser.add_argument("--token-ttl-ms", type=int, default=defaults.token_ttl_ms)
    parser.add_argument("--rate-window-ms", type=int, default=defaults.rate_window_ms)
    parser.add_argument("--rate-limit", type=int, default=defaults.rate_limit)
    parser.add_argument("--access-log", help="file for uvicorn's access log (stderr when absent)")
    args = parser.parse_args(argv)
    faults = frozenset(name.strip() for name in args.fault.split(",") if name.strip())
    unknown = sorted(faults - set(FAULTS))
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(unknown)} (known: {', '.join(FAULTS)})")
    return args, faults


def main(argv):
    args, faults = parse_args(argv)
    timings = Timings(
        generation_ms=args.generation_ms,
        heartbeat_ms=args.heartbeat_ms,
        stream_max_ms=args.stream_max_ms,
        token_ttl_ms=args.token_ttl_ms,
        rate_window_ms=args.rate_window_ms,
        rate_limit=args.rate_limit,
    )
    run_on_free_port(create_app(Settings(timings, faults)), args.access_log, "/api")


if __name__ == "__main__":
    main(sys.argv[1:])
