"""podexec: the last step of starting one container of the rig's pod runner (rig/podrunner.py).

Runs as root inside the pod's network namespace (`ip netns exec`) and a private mount namespace
(`unshare --mount --propagation private`); reads a JSON spec (argv[1]) and:

0. makes the image's files (the local installation an image maps to) reachable for the
   container's user (see expose());
1. opens every volume's source directory/file (O_PATH) before mounting anything, so that a
   mount over e.g. /tmp cannot hide a source that lives under /tmp;
2. bind-mounts them at the container's paths, parents first, read-only where asked (only empty
   mountpoints are ever created on the host's filesystem: the mounts exist in this namespace only);
3. drops to the pod's runAsUser/runAsGroup with fsGroup and supplementalGroups, sets
   no_new_privs, changes to the working directory and execs the container's command.
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
PR_SET_NO_NEW_PRIVS = 38
_libc = ctypes.CDLL(None, use_errno=True)


def _mount(src: str, dst: str, flags: int) -> None:
    if _libc.mount(src.encode(), dst.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {src} -> {dst}: {os.strerror(err)}")


def expose(path: str) -> None:
    """Make PATH reachable for an unprivileged user in this mount namespace only.

    The image's files (e.g. the venv's interpreter under /root/.pyenv) may sit below a directory
    other users cannot traverse: a tmpfs (0755) goes over the first such directory and the one
    entry of PATH below it is bind-mounted back. The host's directories stay as they are.
    """
    parts = os.path.realpath(path).strip("/").split("/")
    for i in range(1, len(parts)):
        d = "/" + "/".join(parts[:i])
        if os.stat(d).st_mode & 0o001:
            continue
        child = d + "/" + parts[i]
        fd = os.open(child, os.O_PATH | os.O_CLOEXEC)
        if _libc.mount(b"tmpfs", d.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=0755") != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"tmpfs on {d}: {os.strerror(err)}")
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.mkdir(child)
        else:
            open(child, "a").close()
        _mount(f"/proc/self/fd/{fd}", child, MS_BIND | MS_REC)
        os.close(fd)


def main(spec_path: str) -> None:
    spec = json.loads(open(spec_path).read())
    for path in spec.get("expose", []):
        expose(path)
    mounts = sorted(spec["mounts"], key=lambda m: m["dst"].rstrip("/").count("/"))
    fds = [os.open(m["src"], os.O_PATH | os.O_CLOEXEC) for m in mounts]
    is_dir = [os.path.isdir(m["src"]) for m in mounts]
    for m, fd, d in zip(mounts, fds, is_dir, strict=True):
        dst = m["dst"]
        if d:
            os.makedirs(dst, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if not os.path.exists(dst):
                open(dst, "a").close()
        _mount(f"/proc/self/fd/{fd}", dst, MS_BIND)
        if m.get("readOnly"):
            _mount("none", dst, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for fd in fds:
        os.close(fd)
    if spec.get("hostname"):
        socket.sethostname(spec["hostname"])  # a private UTS namespace (unshare --uts)
    uid, gid = spec["uid"], spec["gid"]
    os.setgroups(spec.get("groups", []))
    os.setgid(gid)
    os.setuid(uid)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    cwd = spec.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as e:
        sys.exit(f"podexec: working directory {cwd}: {e.strerror}")
    argv, env = spec["argv"], spec["env"]
    try:
        os.execvpe(argv[0], argv, env)  # noqa: S606 - the container's own argv, as the kubelet runs it
    except OSError as e:
        sys.exit(f"podexec: cannot run {argv[0]} (PATH {env.get('PATH')}): {e.strerror}")


if __name__ == "__main__":
    main(sys.argv[1])
