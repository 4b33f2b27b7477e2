"""Programs that run inside the deployed images (standard library and flwr only; never import `federation`).

The manifest builders ship their source in a ConfigMap and run them with the image's Python.
"""
