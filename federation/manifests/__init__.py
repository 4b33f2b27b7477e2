"""Pure builders of the Kubernetes and OCM objects a federation registers (hub, OCM)."""
