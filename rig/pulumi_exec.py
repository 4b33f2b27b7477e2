#!/usr/bin/env python3
"""pulumi-language-python-exec for the rig: run a Pulumi Python program for the language host.

rig/build installs this file as ``pulumi-language-python-exec`` beside ``pulumi-language-python``,
which runs it with the program's Python and passes the engine's settings as flags
(--monitor, --engine, --project, --stack, --pwd, --dry_run, --parallel, --organization,
--root_directory, --tracing) followed by the program (a file or a directory with __main__.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import runpy
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="pulumi-language-python-exec")
    for flag in ("project", "stack", "monitor", "engine", "organization", "root_directory",
                 "pwd", "tracing", "dry_run", "parallel"):
        ap.add_argument("--" + flag)
    ap.add_argument("PROGRAM")
    ap.add_argument("ARGS", nargs="*")
    args = ap.parse_args(argv)

    try:
        import pulumi
        import pulumi.runtime
    except ImportError:
        traceback.print_exc()
        print("The Pulumi Python SDK is not installed in this Python environment.", file=sys.stderr)
        return 1

    pulumi.runtime.set_all_config(
        pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())
    parallel = int(args.parallel) if args.parallel else None
    settings = pulumi.runtime.Settings(
        project=args.project,
        stack=args.stack,
        monitor=args.monitor,
        engine=args.engine,
        parallel=parallel,
        dry_run=args.dry_run == "true",
        organization=args.organization,
        root_directory=args.root_directory,
    )
    pulumi.runtime.configure(settings)
    if args.pwd:
        os.chdir(args.pwd)

    program = os.path.abspath(args.PROGRAM)
    sys.argv = [program, *args.ARGS]
    if os.path.isdir(program):
        sys.path.insert(0, program)
    else:
        sys.path.insert(0, os.path.dirname(program))

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = ThreadPoolExecutor(max_workers=parallel if parallel and parallel > 0 else None)
    loop.set_default_executor(executor)

    def run() -> None:
        runpy.run_path(program, run_name="__main__")

    code = 0
    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(run))
    except pulumi.RunError as e:
        pulumi.log.error(str(e))
        code = 32  # the engine's "error already reported" exit code
    except Exception:
        pulumi.log.error("Program failed with an unhandled exception:\n" + traceback.format_exc())
        code = 32
    finally:
        loop.close()
        executor.shutdown(wait=False)
        sys.stdout.flush()
        sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
