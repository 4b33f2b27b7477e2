"""Per-environment policy settings (`flower:policy`, or the CrossGuard pack's config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from federation.spec import Model

Enforcement = Literal["mandatory", "advisory", "disabled"]
#: The stack config key holding the settings.
POLICY_CONFIG_KEY = "flower:policy"


class PolicySettings(Model):
    """Per-environment policy configuration (stack config key `flower:policy`, or the pack's config)."""

    production: bool = False
    allow_insecure: bool = False
    require_image_digests: bool = False
    enforcement: dict[str, Enforcement] = Field(default_factory=dict)
