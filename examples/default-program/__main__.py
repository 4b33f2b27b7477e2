"""Run the repository's default program (``../../__main__.py``) unchanged.

There is nothing example-specific here on purpose: the repository root IS the default program, and
its stacks are ``../../stacks/Pulumi.dev.yaml`` and ``../../stacks/Pulumi.prod.yaml``.
"""

import runpy
from pathlib import Path

ROOT_PROGRAM = Path(__file__).resolve().parents[2] / "__main__.py"

program = runpy.run_path(str(ROOT_PROGRAM))
federation = program["federation"]
