"""Pulumi ComponentResources over the pure builders in :mod:`federation`."""
