"""The flower-federation CrossGuard policy pack: `pulumi preview --policy-pack policy/`.

Per-environment settings go in a pack config file passed with `--policy-pack-config`;
`flower-federation check --stack NAME --write-pack-config FILE` writes it from the stack's `flower:policy`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flower_policies import build_policies
from pulumi_policy import PolicyPack

PolicyPack(name="flower-federation", policies=build_policies())
