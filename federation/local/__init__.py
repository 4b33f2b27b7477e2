"""`flower-federation local up`: a real Flower federation on one machine (no cluster)."""

from federation.local.progress import RoundMetrics, RunProgress
from federation.local.runner import LocalFederation, LocalRunError, RunResult, default_app, free_port, resolve_binary

__all__ = ["LocalFederation", "LocalRunError", "RoundMetrics", "RunProgress", "RunResult", "default_app", "free_port",
           "resolve_binary"]
