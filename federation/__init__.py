"""flower-federation: the pure domain (spec, Flower contract, manifests, policies, local runner, CLI)."""
