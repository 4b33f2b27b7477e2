"""Day-2 operations on a deployed federation: `status` (read live from the hub) and `connect` (`flwr` to the SuperLink).

- :mod:`federation.ops.status` — the pure part: a status model evaluated from plain dicts (the objects
  as the API server returns them, the JSON `flwr` prints), its exit code, its text and JSON renderings.
- :mod:`federation.ops.connect` — the pure part of `connect`: the SuperLink connection `flwr` reads
  (``$FLWR_HOME/config.toml``, ``[superlink.<name>]``) and the CA file it points at.
- :mod:`federation.ops.hub` — the fetching: the official ``kubernetes`` client (imported only here,
  and only by the commands that need it), the hub snapshot, the CA from the hub, a managed port-forward.
- :mod:`federation.ops.control` — Flower's Control API through the real ``flwr`` CLI (`supernode list`, `ls`).
"""
