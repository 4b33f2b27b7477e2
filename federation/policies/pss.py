"""The checker for the Kubernetes Pod Security Standards, `restricted` profile (which includes `baseline`).

Written against https://kubernetes.io/docs/concepts/security/pod-security-standards/ (policy
version v1.33). Reusable: :func:`check_pod_spec` takes a pod spec dict (camelCase, as rendered)
and returns every violation as a human-readable string; an empty list means compliant.
:func:`pod_specs` digs the pod specs out of workload objects (Pod, Deployment, Job, ...).

Not covered: Windows-only pods (``spec.os.name: windows`` relaxes some rules; we never emit them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["check_object", "check_pod_spec", "pod_specs"]

#: Restricted: the only volume types allowed.
ALLOWED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
#: Baseline: sysctls considered safe (up to v1.33).
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
ALLOWED_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
ALLOWED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_APPARMOR = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_ADD_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in _CONTAINER_LISTS:
        for c in pod.get(field) or []:
            yield f"{field}[{c.get('name', '?')}]", c


def _check_selinux(where: str, opts: Mapping[str, Any] | None) -> list[str]:
    if not opts:
        return []
    out = []
    if opts.get("type", "") not in ALLOWED_SELINUX_TYPES:
        out.append(f"{where}.seLinuxOptions.type {opts['type']!r} is not allowed")
    for key in ("user", "role"):
        if opts.get(key):
            out.append(f"{where}.seLinuxOptions.{key} must not be set")
    return out


def check_pod_spec(pod: Mapping[str, Any], *, annotations: Mapping[str, str] | None = None) -> list[str]:
    """Violations of PSS `restricted` in a pod spec (and its pod annotations, for AppArmor)."""
    v: list[str] = []
    psc: Mapping[str, Any] = pod.get("securityContext") or {}

    # --- baseline -------------------------------------------------------------------------
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            v.append(f"spec.{field} must be false")
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        v.append("securityContext.windowsOptions.hostProcess must not be true")
    for vol in pod.get("volumes") or []:
        kinds = [k for k in vol if k != "name"]
        if "hostPath" in kinds:
            v.append(f"volume {vol.get('name')!r} uses hostPath")
        for k in kinds:
            if k not in ALLOWED_VOLUME_TYPES:
                v.append(f"volume {vol.get('name')!r} has type {k!r}, not allowed by restricted")
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            v.append(f"sysctl {sysctl.get('name')!r} is not a safe sysctl")
    v += _check_selinux("securityContext", psc.get("seLinuxOptions"))
    pod_apparmor = (psc.get("appArmorProfile") or {}).get("type")
    if pod_apparmor is not None and pod_apparmor not in ALLOWED_APPARMOR:
        v.append(f"securityContext.appArmorProfile.type {pod_apparmor!r} is not allowed")
    for key, value in (annotations or {}).items():
        if key.startswith(_APPARMOR_ANNOTATION) and not (value == "runtime/default" or value.startswith("localhost/")):
            v.append(f"annotation {key}={value!r} is not an allowed AppArmor profile")

    # --- restricted, pod level --------------------------------------------------------------
    pod_non_root = psc.get("runAsNonRoot") is True
    if psc.get("runAsUser") == 0:
        v.append("securityContext.runAsUser must not be 0")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in ALLOWED_SECCOMP:
        v.append(f"securityContext.seccompProfile.type {pod_seccomp!r} is not allowed")

    containers = list(_containers(pod))
    if not containers:
        v.append("pod has no containers")
    for where, c in containers:
        sc: Mapping[str, Any] = c.get("securityContext") or {}
        # baseline
        if sc.get("privileged"):
            v.append(f"{where}.securityContext.privileged must be false")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            v.append(f"{where}.securityContext.windowsOptions.hostProcess must not be true")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                v.append(f"{where} uses hostPort {port['hostPort']}")
        if sc.get("procMount", "Default") != "Default":
            v.append(f"{where}.securityContext.procMount must be Default")
        v += _check_selinux(f"{where}.securityContext", sc.get("seLinuxOptions"))
        apparmor = (sc.get("appArmorProfile") or {}).get("type")
        if apparmor is not None and apparmor not in ALLOWED_APPARMOR:
            v.append(f"{where}.securityContext.appArmorProfile.type {apparmor!r} is not allowed")
        # restricted
        if sc.get("allowPrivilegeEscalation") is not False:
            v.append(f"{where}.securityContext.allowPrivilegeEscalation must be false")
        if sc.get("runAsNonRoot") is False or not (pod_non_root or sc.get("runAsNonRoot") is True):
            v.append(f"{where}: runAsNonRoot must be true (pod or container)")
        if sc.get("runAsUser") == 0:
            v.append(f"{where}.securityContext.runAsUser must not be 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in ALLOWED_SECCOMP:
            v.append(f"{where}.securityContext.seccompProfile.type {seccomp!r} is not allowed")
        if seccomp is None and pod_seccomp is None:
            v.append(f"{where}: seccompProfile must be RuntimeDefault or Localhost (pod or container)")
        caps: Mapping[str, Any] = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            v.append(f"{where}.securityContext.capabilities.drop must include ALL")
        for cap in caps.get("add") or []:
            if cap not in ALLOWED_ADD_CAPABILITIES:
                v.append(f"{where}.securityContext.capabilities.add {cap!r} is not allowed")
    return v


def pod_specs(obj: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, str]]]:
    """``(pod spec, pod annotations)`` of a workload object; empty for non-workloads."""
    kind = obj.get("kind")
    spec: Mapping[str, Any] = obj.get("spec") or {}
    if kind == "Pod":
        return [(spec, (obj.get("metadata") or {}).get("annotations") or {})]
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    if isinstance(template, Mapping) and isinstance(template.get("spec"), Mapping):
        return [(template["spec"], (template.get("metadata") or {}).get("annotations") or {})]
    return []


def check_object(obj: Mapping[str, Any]) -> list[str]:
    """Violations in every pod spec of a workload object, prefixed with kind/name."""
    name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
    return [f"{name}: {msg}" for pod, ann in pod_specs(obj) for msg in check_pod_spec(pod, annotations=ann)]
