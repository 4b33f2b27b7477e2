"""The typed federation spec: one declaration for the Pulumi program, the CLI and the local runner.

Field names are camelCase in YAML (as in Kubernetes and Pulumi config) and snake_case in Python.
Structural checks live on the models; rules that span several fields live in
:mod:`federation.validation` so every problem can name its exact path.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cached_property
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    model_validator,
)
from pydantic.alias_generators import to_camel

#: Releases whose runtime contract is verified (`federation.flower.RELEASES`, checked against each one's `--help`).
SUPPORTED_FLOWER_VERSIONS = ("1.42.0", "1.41.0")
DEFAULT_FLOWER_VERSION = "1.42.0"
#: The Fleet proxy image (nginx, non-root uid 101, listens on unprivileged ports).
DEFAULT_PROXY_IMAGE = "docker.io/nginxinc/nginx-unprivileged:1.28.0-alpine"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
# Docker reference grammar (distribution/reference), simplified to what registries accept.
_IMAGE = re.compile(
    r"^(?:(?P<registry>[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_OCM_VARIABLE = re.compile(r"^[a-zA-Z_][_a-zA-Z0-9]*$")
_DURATION = re.compile(r"^([0-9]+[hms])+$")
_PERCENT_OR_INT = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")
# Flower reads node-config/run-config as TOML bare keys: dots separate nested tables.
_NODE_CONFIG_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")
# Kubernetes apimachinery pkg/util/validation/validation.go: IsDNS1035Label (Service names).
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# OCM crds/ocm/*placements.crd.yaml: decisionGroups[].groupName.
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9][-A-Za-z0-9_.]{0,61}[a-zA-Z0-9]$")
# OCM crds/ocm/*manifestworkreplicasets.crd.yaml rolloutStrategy.*.progressDeadline ("None" is OCM's default).
_DEADLINE = re.compile(r"^(([0-9]+[hms])+|None)$")
# A registry host[:port][/path] as containerd/CRI-O mirror config takes it (no scheme, no spaces).
_REGISTRY = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])"
    r"(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
#: Longest value echoed back in a message; longer ones are cut.
SHOW_MAX = 80


def show(value: object) -> str:
    """`repr(value)`, cut to :data:`SHOW_MAX` characters so a huge value never floods the output."""
    text = repr(value)
    return text if len(text) <= SHOW_MAX else f"{text[:SHOW_MAX - 3]}...' ({len(str(value))} characters)"


def is_dns_label(value: str) -> bool:
    """Whether `value` is an RFC 1123 (DNS-1123) label: Kubernetes names of Services, Namespaces, ..."""
    return len(value) <= 63 and _DNS_LABEL.match(value) is not None


def _dns_label(value: str) -> str:
    if not is_dns_label(value):
        raise ValueError(
            f"{show(value)} is not a valid DNS-1123 label (lowercase letters, digits and '-', "
            "start and end alphanumeric, at most 63 characters)"
        )
    return value


def is_dns1035_label(value: str) -> bool:
    """Whether `value` is an RFC 1035 label (IsDNS1035Label): Service names must start with a letter."""
    return len(value) <= 63 and _DNS1035_LABEL.match(value) is not None


def is_dns_subdomain(value: str) -> bool:
    """Whether `value` is a DNS-1123 subdomain (IsDNS1123Subdomain): names of most namespaced objects."""
    return len(value) <= 253 and _DNS_SUBDOMAIN.match(value) is not None


def is_label_value(value: str) -> bool:
    """Whether `value` is a valid label value (IsValidLabelValue)."""
    return len(value) <= 63 and _LABEL_VALUE.match(value) is not None


def is_qualified_name(value: str) -> bool:
    """Whether `value` is a qualified name (IsQualifiedName): label and annotation keys."""
    prefix, slash, name = value.rpartition("/")
    if slash and not (prefix and is_dns_subdomain(prefix)):
        return False
    return len(name) <= 63 and _LABEL_NAME.match(name) is not None


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(f"{show(value)} is not a valid DNS-1123 subdomain")
    return value


def _flower_version(value: str) -> str:
    if value not in SUPPORTED_FLOWER_VERSIONS:
        raise ValueError(
            f"Flower {value} is not supported yet (supported: {', '.join(SUPPORTED_FLOWER_VERSIONS)}); "
            "its runtime contract differs and has not been verified"
        )
    return value


def _label_key(value: str) -> str:
    if not is_qualified_name(value):
        raise ValueError(
            f"{show(value)} is not a valid label key (optional DNS prefix '/', then at most 63 "
            "alphanumerics, '-', '_' or '.', starting and ending alphanumeric)"
        )
    return value


def _label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ValueError(f"{show(value)} is not a valid label value (at most 63 alphanumerics, '-', '_' or '.')")
    return value


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError(f"{show(value)} is not a Kubernetes resource quantity (e.g. 500m, 1Gi, 2)")
    return value


def _image(value: str) -> str:
    if len(value) > 255 or not _IMAGE.match(value):
        raise ValueError(f"{show(value)} is not a valid image reference (registry/path:tag or path@sha256:<digest>)")
    return value


def _not_bool(value: object) -> object:
    """YAML `true`/`false` would pass as 1/0 where a number is meant: refuse them."""
    if isinstance(value, bool):
        raise ValueError(f"must be an integer (got {value!r})")
    return value


def _int_or_str(value: object) -> object:
    """OCM int-or-string fields: `5` and `"5"` (and `"25%"`) mean the same."""
    if isinstance(value, bool):
        raise ValueError(f"must be a count or a percentage like 25% (got {value!r})")
    return str(value) if isinstance(value, int) else value


def _deadline(value: str) -> str:
    if not _DEADLINE.match(value):
        raise ValueError(f"{show(value)} is not a duration like 90s, 10m or 2h (or None)")
    return value


def _group_name(value: str) -> str:
    if not _GROUP_NAME.match(value):
        raise ValueError(f"{show(value)} is not a valid decision group name (2 to 63 letters, digits, '-', '_' or '.', "
                         "starting and ending alphanumeric)")
    return value


def _registry(value: str) -> str:
    if not _REGISTRY.match(value) or len(value) > 255:
        raise ValueError(f"{show(value)} is not a registry host like registry.example.com[:5000][/path] "
                         "(no scheme, no spaces)")
    return value


def _annotation_key(value: str) -> str:
    if not is_qualified_name(value):
        raise ValueError(f"{show(value)} is not a valid annotation key (optional DNS prefix '/', then at most 63 "
                         "alphanumerics, '-', '_' or '.', starting and ending alphanumeric)")
    return value


def _positive_quantity(value: str) -> str:
    if _QUANTITY.match(value) and not any(c in "123456789" for c in value.split("e")[0].split("E")[0]):
        raise ValueError(f"{show(value)} must be greater than zero")
    return value


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(f"{show(value)} is not a duration like 90s, 10m or 2h")
    return value


def _percent_or_int(value: str) -> str:
    if not _PERCENT_OR_INT.match(value):
        raise ValueError(f"{show(value)} must be a count or a percentage like 25%")
    return value


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{show(value)} is not a CIDR range: {exc}") from None
    return value


def _ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{show(value)} is not an IP address") from None
    return value


def _ocm_variable(value: str) -> str:
    if len(value) > 255 or not _OCM_VARIABLE.match(value):
        raise ValueError(f"{show(value)} is not a valid OCM variable name (letters, digits, '_'; not starting with a digit)")
    return value


def _node_config_key(value: str) -> str:
    if not _NODE_CONFIG_KEY.match(value):
        raise ValueError(f"{show(value)} is not a valid node-config key (letters, digits, '-', '_', and '.' "
                         "between non-empty parts)")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
Quantity = Annotated[str, AfterValidator(_quantity)]
ImageRef = Annotated[str, AfterValidator(_image)]
Duration = Annotated[str, AfterValidator(_duration)]
PercentOrInt = Annotated[str, AfterValidator(_percent_or_int)]
Cidr = Annotated[str, AfterValidator(_cidr)]
IpAddress = Annotated[str, AfterValidator(_ip)]
OcmVariable = Annotated[str, AfterValidator(_ocm_variable)]
NodeConfigKey = Annotated[str, AfterValidator(_node_config_key)]
Int = Annotated[int, BeforeValidator(_not_bool)]
Port = Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=65535)]
Int32 = Annotated[int, BeforeValidator(_not_bool), Field(le=INT32_MAX)]
OcmCount = Annotated[str, BeforeValidator(_int_or_str), AfterValidator(_percent_or_int)]
Deadline = Annotated[str, AfterValidator(_deadline)]
GroupName = Annotated[str, AfterValidator(_group_name)]
RegistryHost = Annotated[str, AfterValidator(_registry)]
AnnotationKey = Annotated[str, AfterValidator(_annotation_key)]
PositiveQuantity = Annotated[str, AfterValidator(_quantity), AfterValidator(_positive_quantity)]


def _scalar(value: object) -> bool | int | float | str:
    if isinstance(value, bool | int | float | str):
        return value
    raise ValueError("must be a string, number or boolean")


NodeConfigValue = Annotated[bool | int | float | str, PlainValidator(_scalar)]


class Model(BaseModel):
    """Base for every spec model: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        strict=False,
    )


# --- shared building blocks ------------------------------------------------------------


class ResourceList(Model):
    """A Kubernetes resource list restricted to the common keys plus extended resources."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    cpu: Quantity | None = None
    memory: Quantity | None = None
    ephemeral_storage: Quantity | None = Field(default=None, alias="ephemeral-storage")


class Resources(Model):
    """Requests and limits of a container (GPUs are declared with `gpu`, not here)."""

    requests: ResourceList = ResourceList(cpu="100m", memory="256Mi")
    limits: ResourceList = ResourceList(cpu="1", memory="1Gi")


class Toleration(Model):
    """A Kubernetes pod toleration."""

    key: LabelKey | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: Int | None = Field(default=None, ge=0, le=INT64_MAX)


class LabelSelectorRequirement(Model):
    """One `key operator values` requirement of a label selector."""

    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[LabelValue] = []


class LabelSelector(Model):
    """A Kubernetes label selector (`matchLabels` and/or `matchExpressions`)."""

    match_labels: dict[LabelKey, LabelValue] = {}
    match_expressions: list[LabelSelectorRequirement] = []


class ClaimSelector(Model):
    """Selects clusters by ClusterClaims (`status.clusterClaims`)."""

    match_expressions: list[LabelSelectorRequirement] = Field(min_length=1)


class RegistryMirror(Model):
    """Pull images of `source` (empty: every registry) from `mirror` on the managed clusters."""

    source: Annotated[str, AfterValidator(lambda v: v and _registry(v))] = ""
    mirror: RegistryHost


class RolloutStrategy(Model):
    """How OCM rolls out a change across the selected clusters (OCM RolloutStrategy)."""

    type: Literal["All", "Progressive", "ProgressivePerGroup"] = "All"
    min_success_time: Duration | None = None
    progress_deadline: Deadline | None = None
    max_failures: OcmCount | None = None
    max_concurrency: OcmCount | None = None
    mandatory_decision_groups: list[GroupName] = []


# --- Flower -----------------------------------------------------------------------------


class FlowerImages(Model):
    """Container images (tag or digest). All must carry the same Flower version."""

    superlink: ImageRef = f"flwr/superlink:{DEFAULT_FLOWER_VERSION}"
    supernode: ImageRef = f"flwr/supernode:{DEFAULT_FLOWER_VERSION}"
    superexec: ImageRef | None = f"flwr/superexec:{DEFAULT_FLOWER_VERSION}"


class FlowerSpec(Model):
    """Flower release, images and registry settings shared by every component."""

    version: Annotated[str, AfterValidator(_flower_version)] = DEFAULT_FLOWER_VERSION
    images: FlowerImages = FlowerImages()
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    image_pull_secrets: list[DnsSubdomain] = []
    registry_mirrors: list[RegistryMirror] = []

    @model_validator(mode="before")
    @classmethod
    def _images_follow_the_version(cls, data: object) -> object:
        """Images left out default to the official ones of the declared `version` (not of the default release)."""
        if not isinstance(data, dict) or data.get("version") not in SUPPORTED_FLOWER_VERSIONS:
            return data
        images = data.get("images", {})
        if not isinstance(images, dict):
            return data
        version = data["version"]
        filled = {name: f"flwr/{name}:{version}" for name in ("superlink", "supernode", "superexec") if name not in images}
        return {**data, "images": {**images, **filled}} if filled else data


# --- Hub --------------------------------------------------------------------------------


class Exposure(Model):
    """How the SuperLink is reached, and the names/IPs clients dial from outside the hub."""

    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    node_port: Int | None = Field(default=None, ge=30000, le=32767)
    load_balancer_source_ranges: list[Cidr] = []
    external_names: list[DnsSubdomain] = []
    external_ips: list[IpAddress] = Field(default=[], alias="externalIPs")
    external_port: Port | None = None
    annotations: dict[AnnotationKey, str] = {}


class Persistence(Model):
    """The SuperLink state database (sqlite on a PersistentVolumeClaim)."""

    enabled: bool = True
    size: PositiveQuantity = "1Gi"
    storage_class: DnsSubdomain | None = None


def _pem_certificate(value: str) -> str:
    text = value.strip()
    if "PRIVATE KEY" in text:
        raise ValueError("holds a private key: only CA certificates belong here (they are shipped to every spoke)")
    if not (text.startswith("-----BEGIN CERTIFICATE-----") and text.endswith("-----END CERTIFICATE-----")):
        raise ValueError("is not a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)")
    if len(text) > 16 * 1024:
        raise ValueError(f"is {len(text)} characters; a CA certificate is at most a few kilobytes")
    return text + "\n"


PemCertificate = Annotated[str, AfterValidator(_pem_certificate)]


class Tls(Model):
    """Transport security of the SuperLink.

    `generate` creates a CA and server certificate kept stable in Pulumi state;
    `existingSecret` uses a `kubernetes.io/tls` Secret with `tls.crt`, `tls.key` and `ca.crt`;
    `insecure` needs `allowInsecure: true`.
    """

    mode: Literal["generate", "existingSecret", "insecure"] = "generate"
    secret_name: DnsSubdomain | None = None
    allow_insecure: bool = False
    validity_days: Int = Field(default=365, ge=1, le=3650)
    renew_before_days: Int = Field(default=30, ge=0)
    #: CA certificates the SuperNodes trust besides the SuperLink's own CA: the first step of a CA
    #: rotation (ship old and new, let the fleet roll, then switch the SuperLink's certificate).
    additional_ca_certificates: list[PemCertificate] = Field(default=[], max_length=8)


class GpuSpec(Model):
    """GPUs for the pod that runs the ClientApp, and the nodes it may land on."""

    resource_name: str | None = "nvidia.com/gpu"
    count: Int = Field(default=1, ge=1, le=INT32_MAX)
    node_selector: dict[LabelKey, LabelValue] = {}
    tolerations: list[Toleration] = []


# --- Task pods (Flower's SuperExec Kubernetes executor) ------------------------------------

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Env names Flower's executor refuses in task pods (provider API keys; `kubernetes_executor.py`).
FLOWER_FORBIDDEN_TASK_ENV = frozenset({"FLWR_MODEL_API_KEY", "BRAVE_API_KEY", "TAVILY_API_KEY", "EXA_API_KEY"})
#: Env the runtime contract sets in every task pod (`federation.flower.task_executor`; a test keeps them equal).
TASK_CONTRACT_ENV = frozenset({"FLWR_HOME", "HOME", "FLWR_TELEMETRY_ENABLED", "FLWR_DISABLE_UPDATE_CHECK",
                               "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION"})
#: Volume names and mount paths the executor reserves (the task's AppIO token Secret, warm executors).
FLOWER_RESERVED_TASK_VOLUMES = frozenset({"appio-credentials", "warm-executor-ready", "warm-executor-root-certificates"})
FLOWER_RESERVED_TASK_PATHS = frozenset({"/run/flwr/appio"})
#: Directories the runtime contract mounts (emptyDirs) in every task pod (`flower.task_executor`; a test
#: keeps them equal): `taskPods.volumeMounts` may not mount over them.
TASK_CONTRACT_PATHS = frozenset({"/var/lib/flwr/home", "/app/.cache", "/app/.config", "/tmp", "/var/tmp"})  # noqa: S108
#: Volume sources a task pod may use: the `restricted` Pod Security Standard's, minus `secret`, which Flower
#: refuses (as it refuses `secret` and `serviceAccountToken` sources of a `projected` volume).
TASK_VOLUME_SOURCES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                                 "projected"})


def _task_env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"{show(value)} is not an environment variable name Flower's executor accepts "
                         "([A-Za-z_][A-Za-z0-9_]*)")
    if value in FLOWER_FORBIDDEN_TASK_ENV:
        raise ValueError(f"{value} is refused by Flower's Kubernetes executor (a model-provider API key)")
    if value in TASK_CONTRACT_ENV:
        raise ValueError(f"{value} is set by the runtime contract in every task pod")
    return value


def _no_value_from(value: object) -> object:
    if value is not None:
        raise ValueError("Flower's Kubernetes executor accepts literal `value` entries only (it refuses valueFrom: "
                         "task pods get no Secret or field references); put secrets in the app's own configuration")
    return value


def _task_volume(value: dict[str, object]) -> dict[str, object]:
    name = value.get("name")
    if not isinstance(name, str) or not is_dns_label(name):
        raise ValueError(f"name {show(name)} must be a DNS-1123 label")
    if name in FLOWER_RESERVED_TASK_VOLUMES:
        raise ValueError(f"name {name!r} is reserved by Flower's Kubernetes executor")
    sources = [k for k in value if k != "name"]
    if len(sources) != 1:
        raise ValueError(f"needs exactly one volume source besides `name`, got {sources}")
    source = sources[0]
    if source == "secret":
        raise ValueError("secret volumes are refused by Flower's Kubernetes executor (task pods get only their "
                         "own AppIO token)")
    if source not in TASK_VOLUME_SOURCES:
        raise ValueError(f"{source!r} volumes are not allowed (restricted Pod Security; allowed: "
                         f"{', '.join(sorted(TASK_VOLUME_SOURCES))})")
    body = value[source]
    if not isinstance(body, dict):
        raise ValueError(f"{source} must be a mapping")
    if source == "projected":
        for item in body.get("sources") or []:
            if isinstance(item, dict) and ({"secret", "serviceAccountToken"} & set(item)):
                raise ValueError("projected secret and serviceAccountToken sources are refused by Flower's "
                                 "Kubernetes executor")
    return value


def _absolute_path(value: str) -> str:
    if not value.startswith("/") or "\x00" in value or ".." in value.split("/"):
        raise ValueError(f"{show(value)} must be an absolute path without '..'")
    if value.rstrip("/") in FLOWER_RESERVED_TASK_PATHS or value.startswith("/run/flwr/appio/"):
        raise ValueError(f"{value} is reserved by Flower's Kubernetes executor (the task's AppIO token)")
    return value


class TaskEnvVar(Model):
    """A literal environment variable of the task pods."""

    name: Annotated[str, AfterValidator(_task_env_name)]
    value: str = ""
    #: Rejected when set: Flower's executor refuses `valueFrom` (kept so the error can say so).
    value_from: Annotated[object, AfterValidator(_no_value_from)] = None


class TaskVolumeMount(Model):
    """A mount of one of `taskPods.volumes` in the task container."""

    name: DnsLabel
    mount_path: Annotated[str, AfterValidator(_absolute_path)]
    read_only: bool = False
    sub_path: str | None = None


class ApiServerAccess(Model):
    """Where the SuperExec reaches its cluster's API server (NetworkPolicy egress; it creates the task pods)."""

    #: The API server's ports as the pod sees them (443 on the `kubernetes` Service, 6443 behind it after DNAT).
    ports: list[Port] = Field(default_factory=lambda: [443, 6443], min_length=1)
    #: Its addresses; empty: any address on those ports.
    cidrs: list[Cidr] = []


class TaskPodsSpec(Model):
    """Per-task pods: the SuperExec's Kubernetes executor runs every ServerApp run / ClientApp message as a Pod.

    Only the task pods request the GPU (and land on GPU nodes); the always-on SuperExec is small.
    Keys mirror Flower's executor config (`active-pod-budget`, `priority-class-name`, `env`, `volumes`, ...).
    """

    enabled: bool = False
    #: Namespace of the task pods and their AppIO token Secrets; default `<the SuperExec's namespace>-tasks`.
    namespace: DnsLabel | None = None
    create_namespace: bool = True
    #: The task pods' image (`flwr-serverapp`/`flwr-clientapp` and the app's dependencies); default the SuperExec's.
    image: ImageRef | None = None
    #: Flower's `active-pod-budget`: task pods (pending or running) at a time; bounds unschedulable pods.
    active_pod_budget: Int = Field(default=2, ge=1, le=1000)
    #: The task container's requests and limits; default the ClientApp's `resources` (hub: `hub.superexec.resources`).
    resources: Resources | None = None
    #: GPUs of the task pods; default the ClientApp's GPU settings (its own, else its first pool's). Hub: none.
    gpu: GpuSpec | None = None
    priority_class_name: DnsSubdomain | None = None
    env: list[TaskEnvVar] = []
    volumes: list[Annotated[dict[str, object], AfterValidator(_task_volume)]] = []
    volume_mounts: list[TaskVolumeMount] = []
    api_server: ApiServerAccess = ApiServerAccess()

    def namespace_for(self, superexec_namespace: str) -> str:
        """The task pods' namespace: `namespace`, else `<superexec_namespace>-tasks`."""
        return self.namespace or f"{superexec_namespace}-tasks"


class SuperExecSpec(Model):
    """The ServerApp SuperExec on the hub (process isolation)."""

    resources: Resources = Resources()
    #: Run each ServerApp run as its own Pod (Flower's Kubernetes executor) instead of a subprocess.
    task_pods: TaskPodsSpec = TaskPodsSpec()


class RegistrarSpec(Model):
    """The hub's SuperNode registrar (`registration: Automatic`): a small Deployment next to the SuperLink."""

    #: Its image: Python and flwr (it calls the Control API with flwr's client); default `flower.images.superexec`.
    image: ImageRef | None = None
    resources: Resources = Resources(requests=ResourceList(cpu="10m", memory="64Mi"),
                                     limits=ResourceList(cpu="200m", memory="256Mi"))
    #: Seconds between two passes over the ManifestWorks and the SuperLink's nodes (a failed pass is retried then).
    sync_interval_seconds: Int = Field(default=15, ge=1, le=3600)
    #: Where it reaches the hub's API server (NetworkPolicy egress; it reads ManifestWorks).
    api_server: ApiServerAccess = ApiServerAccess()


class SuperNodeAuth(Model):
    """SuperNode authentication: only registered ECDSA public keys may connect.

    `registration: Manual`: you create each cluster's key Secret and run `flwr supernode register`.
    `Automatic`: each SuperNode generates its key pair on its own cluster (the private key never leaves
    it), its public key reaches the hub as ManifestWork status feedback, and the hub's registrar
    registers it with the SuperLink (and unregisters it when the cluster leaves).
    """

    enabled: bool = False
    registration: Literal["Manual", "Automatic"] = "Manual"
    registrar: RegistrarSpec = RegistrarSpec()


class FleetProxySpec(Model):
    """The nginx in front of the SuperLink: the only hub endpoint reachable from outside (Fleet API, health)."""

    image: ImageRef = DEFAULT_PROXY_IMAGE
    resources: Resources = Resources()


class ControlClient(Model):
    """Pods allowed to reach the SuperLink's own port (Control and Runtime APIs) inside the hub cluster.

    A NetworkPolicy peer: `podSelector` in the hub namespace, or with `namespaceSelector` in the
    namespaces it selects.
    """

    pod_selector: LabelSelector = LabelSelector()
    namespace_selector: LabelSelector | None = None


class HubSpec(Model):
    """The hub cluster: where the SuperLink runs."""

    namespace: DnsLabel = "flower-system"
    create_namespace: bool = True
    #: The port SuperNodes dial: the Fleet proxy's (only the Fleet API and /health pass).
    port: Port = 8000
    #: The SuperLink's own port (Fleet, Control, Runtime): reachable only inside the hub.
    api_port: Port = 9093
    exposure: Exposure = Exposure()
    proxy: FleetProxySpec = FleetProxySpec()
    control_clients: list[ControlClient] = []
    persistence: Persistence = Persistence()
    resources: Resources = Resources()
    isolation: Literal["subprocess", "process"] = "process"
    #: `subprocess` hands ServerApp tasks to anyone reaching the SuperLink's Runtime API (no secret):
    #: with an external exposure it needs this explicit opt-in.
    allow_subprocess_isolation: bool = False
    tls: Tls = Tls()
    supernode_auth: SuperNodeAuth = SuperNodeAuth()
    runtime_dependency_installation: bool = False
    superexec: SuperExecSpec = SuperExecSpec()


# --- SuperNode pools --------------------------------------------------------------------


class ScoreCoordinate(Model):
    """A prioritizer: a BuiltIn one or an AddOnPlacementScore (resourceName/scoreName)."""

    #: OCM's built-in prioritizers (placement `schedule.go`); any other name makes the Placement Misconfigured.
    built_in: Literal["Balance", "Steady", "ResourceAllocatableCPU", "ResourceAllocatableMemory"] | None = None
    add_on: AddOnScore | None = None
    weight: Int = Field(default=1, ge=-10, le=10)


class AddOnScore(Model):
    """An AddOnPlacementScore used as a prioritizer: the score resource and the score name in it."""

    resource_name: DnsSubdomain
    score_name: str = Field(min_length=1)


class Prioritizers(Model):
    """How a Placement ranks clusters: the mode and the weighted prioritizers."""

    mode: Literal["Additive", "Exact"] = "Additive"
    configurations: list[ScoreCoordinate] = []


def _no_spread_policy(value: list[object]) -> list[object]:
    if value:
        raise ValueError("OCM's placement controller does not implement spreadPolicy (v1.2: the field is in the "
                         "API but no scheduler plugin reads it), so it would have no effect; remove it")
    return value


class ClusterToleration(Model):
    """Tolerates a ManagedCluster taint (effects NoSelect, PreferNoSelect, NoSelectIfNew)."""

    key: LabelKey | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = Field(default=None, max_length=1024)  # OCM placements CRD: tolerations[].value
    effect: Literal["NoSelect", "PreferNoSelect", "NoSelectIfNew"] | None = None
    toleration_seconds: Int | None = Field(default=None, ge=0, le=INT64_MAX)


class DecisionGroup(Model):
    """A named group of the Placement's decisions, chosen by a label selector (e.g. a canary group)."""

    group_name: GroupName
    label_selector: LabelSelector | None = None
    claim_selector: ClaimSelector | None = None


class DecisionStrategy(Model):
    """How a Placement splits its decisions into groups."""

    clusters_per_decision_group: OcmCount | None = None
    decision_groups: list[DecisionGroup] = []


class ClusterSelection(Model):
    """Which managed clusters the pool's Placement selects (the selectors are ANDed)."""

    cluster_sets: list[DnsLabel] = Field(default_factory=lambda: ["default"], min_length=1)
    label_selector: LabelSelector | None = None
    claim_selector: ClaimSelector | None = None
    cel_expressions: list[str] = []
    number_of_clusters: Int | None = Field(default=None, ge=1, le=INT32_MAX)
    prioritizers: Prioritizers | None = None
    #: Rejected when set: OCM ignores `spreadPolicy` (kept so the error can say so).
    spread_constraints: Annotated[list[object], AfterValidator(_no_spread_policy)] = []
    tolerations: list[ClusterToleration] = []
    #: Keep a selected cluster that became unreachable or unavailable (OCM's NoSelect taints
    #: `cluster.open-cluster-management.io/unreachable` / `unavailable`) for this long before the
    #: Placement drops it and the addon deletes its SuperNode; null: drop it at once.
    unreachable_toleration_seconds: Int | None = Field(default=300, ge=0, le=INT64_MAX)
    decision_strategy: DecisionStrategy | None = None
    clusters: list[DnsLabel] = []  # ManagedCluster names are namespaces on the hub: DNS-1123 labels


class PoolSpec(Model):
    """A SuperNode pool: one OCM Placement and one SuperNode Deployment per selected cluster."""

    name: DnsLabel
    selection: ClusterSelection = ClusterSelection()
    gpu: GpuSpec | None = None
    resources: Resources = Resources()
    replicas: Int = Field(default=1, ge=1, le=100)
    isolation: Literal["subprocess", "process"] = "subprocess"
    image: ImageRef | None = None
    node_config: dict[NodeConfigKey, NodeConfigValue] = {}
    rollout_strategy: RolloutStrategy = RolloutStrategy()


# --- ClientApps -------------------------------------------------------------------------


class ClientAppSpec(Model):
    """A ClientApp executor image shipped to every cluster of its pools with a ManifestWorkReplicaSet."""

    name: DnsLabel
    image: ImageRef
    pools: list[DnsLabel] = Field(min_length=1)
    resources: Resources = Resources()
    gpu: GpuSpec | None = None
    rollout_strategy: RolloutStrategy = RolloutStrategy()
    #: Run each ClientApp message as its own Pod (Flower's Kubernetes executor) instead of a subprocess.
    task_pods: TaskPodsSpec = TaskPodsSpec()


# --- Distribution -----------------------------------------------------------------------


class OcmSettings(Model):
    """How SuperNodes and ClientApps reach the managed clusters through OCM.

    `addonName` and `agentNamespace` default to `<federation name>-supernode` (see
    :func:`derived_defaults`), so federations side by side on one hub or spoke never share them.
    """

    namespace: DnsLabel | None = None
    addon_name: DnsLabel = "flower-supernode"
    install_strategy: Literal["Placements", "Manual"] = "Placements"
    agent_namespace: DnsLabel = "flower-supernode"
    #: Pull the spoke images with the klusterlet's credentials: the agent namespace is labelled
    #: `addon.open-cluster-management.io/namespace: "true"`, so the klusterlet copies its
    #: `open-cluster-management-image-pull-credentials` Secret into it, and the spoke pods use it.
    klusterlet_image_pull_credentials: bool = True
    max_manifest_bytes: Int = Field(default=400 * 1024, ge=1024, le=500 * 1024)
    variables: dict[OcmVariable, str] = {}


class Distribution(Model):
    """Distribution mode. Only `ocm` exists today; `direct` (per-cluster kubeconfigs) is planned."""

    mode: Literal["ocm", "direct"] = "ocm"
    ocm: OcmSettings = OcmSettings()


# --- Local runner -----------------------------------------------------------------------


class LocalSpec(Model):
    """Settings of `flower-federation local up` (no cluster)."""

    supernodes_per_pool: Int = Field(default=2, ge=1, le=32)
    num_partitions: Int | None = Field(default=None, ge=1)
    rounds: Int = Field(default=2, ge=1)
    run_config: dict[NodeConfigKey, NodeConfigValue] = {}
    timeout_seconds: Int = Field(default=600, ge=10)


# --- The federation ---------------------------------------------------------------------


def derived_defaults(name: str) -> dict[tuple[str, ...], str]:
    """Defaults that derive from the federation's name, by field path (snake_case).

    Cluster-scoped and per-namespace objects of two federations on one hub or managed cluster must not
    collide: the hub namespace, the addon (ClusterManagementAddOn, AddOnTemplates, the
    `feature.open-cluster-management.io/addon-<name>` label) and the SuperNodes' namespace on the spokes.
    A derived value that would not be a DNS label is not applied (validation reports `name`).
    """
    derived = {("hub", "namespace"): f"{name}-system",
               ("distribution", "ocm", "addon_name"): f"{name}-supernode",
               ("distribution", "ocm", "agent_namespace"): f"{name}-supernode"}
    return {path: value for path, value in derived.items() if is_dns_label(value)}


def _fill(part: object, path: tuple[str, ...], value: str) -> object:
    """`part` (absent, a mapping or a model) with the field at `path` set to `value` unless the user set it."""
    field, rest = path[0], path[1:]
    alias = to_camel(field)
    if part is None:
        part = {}
    if isinstance(part, dict):
        key = alias if alias in part else field if field in part else None
        if not rest:
            return part if key is not None else {**part, alias: value}
        return {**part, key or alias: _fill(part.get(key) if key else None, rest, value)}
    if isinstance(part, BaseModel):
        if not rest:
            return part if field in part.model_fields_set else part.model_copy(update={field: value})
        child = getattr(part, field, None)
        filled = _fill(child, rest, value)
        return part if filled is child else part.model_copy(update={field: filled})
    return part  # anything else is left to the field's own validation


class FederationSpec(Model):
    """A whole federation: hub, SuperNode pools, ClientApps, distribution and local settings."""

    name: DnsLabel = "flower"
    flower: FlowerSpec = FlowerSpec()
    hub: HubSpec = HubSpec()
    #: At least one in a declaration (a validation rule: a building block's view may have none).
    pools: list[PoolSpec] = []
    client_apps: list[ClientAppSpec] = []
    distribution: Distribution = Distribution()
    local: LocalSpec = LocalSpec()

    @model_validator(mode="before")
    @classmethod
    def _names_follow_the_federation(cls, data: object) -> object:
        """Fill the :func:`derived_defaults` the declaration leaves out."""
        if not isinstance(data, dict):
            return data
        name = data.get("name", "flower")
        if not isinstance(name, str) or not is_dns_label(name):
            return data
        out: object = data
        for path, value in derived_defaults(name).items():
            out = _fill(out, path, value)
        return out

    @property
    def ocm_namespace(self) -> str:
        """Namespace of the Placements, bindings, AddOnDeploymentConfigs and MWRS."""
        return self.distribution.ocm.namespace or self.hub.namespace

    @cached_property
    def pools_by_name(self) -> dict[str, PoolSpec]:
        """Pools by name (the first of duplicates, which validation rejects)."""
        index: dict[str, PoolSpec] = {}
        for pool in self.pools:
            index.setdefault(pool.name, pool)
        return index

    def pool(self, name: str) -> PoolSpec:
        """The pool called `name` (KeyError if absent)."""
        return self.pools_by_name[name]

    def client_app_gpu(self, app: ClientAppSpec) -> GpuSpec | None:
        """The GPU request of a ClientApp's executor pods: its own, else its first known pool's."""
        if app.gpu is not None:
            return app.gpu
        for name in app.pools:
            pool = self.pools_by_name.get(name)
            if pool is not None:
                return pool.gpu
        return None

    def superexec_image(self) -> str | None:
        """The ServerApp SuperExec image, if any."""
        return self.flower.images.superexec


ScoreCoordinate.model_rebuild()
