"""`hub.tls.mode: existingSecret` through the default program on the real control plane.

The operator's Secret is made the way docs/gitops.md says (the real `openssl` CLI, the commands
`render` prints) and created with the Kubernetes client; `pulumi up` reads it on the hub, ships its
ca.crt to the SuperNodes (AddOnTemplates, the `caCertificate` output) and puts its checksum on every
pod that reads the certificate. A new certificate in the Secret rolls them on the next `up`; a Secret
without a key fails `pulumi preview` with a one-line reason naming it; `destroy` leaves the Secret.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from federation import planning, render
from federation.loading import load_stack
from federation.manifests import hub
from federation.spec import FederationSpec
from tests.cluster.conftest import REPO, Project, Rig

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800),
              pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")]

STACK = "dev"
SECRET = "superlink-cert"


def existing(fed: dict[str, Any]) -> None:
    fed["hub"]["createNamespace"] = False
    fed["hub"]["tls"] = {"mode": "existingSecret", "secretName": SECRET}


def make_certificate(directory: Path, spec: FederationSpec) -> dict[str, str]:
    """CA and server certificate by the commands REQUIRED-SECRETS.md prints; the Secret's `data`."""
    directory.mkdir(parents=True)
    (tls_secret,) = [r for r in planning.omitted_secrets(spec, material=None) if r.type == "kubernetes.io/tls"]
    subprocess.run(["bash", "-euc", "\n".join(render.openssl_commands(tls_secret.sans, tls_secret.sans[0]))],
                   cwd=directory, check=True, capture_output=True)
    files = {"tls.crt": "server.crt", "tls.key": "server.key", "ca.crt": "ca.crt"}
    return {k: base64.b64encode((directory / f).read_bytes()).decode() for k, f in files.items()}


def pem(data: dict[str, str], key: str) -> str:
    return base64.b64decode(data[key]).decode()


def annotations(rig: Rig, namespace: str, name: str) -> dict[str, str]:
    dep = rig.apps("hub-dev").read_namespaced_deployment(name, namespace)
    return dict(dep.spec.template.metadata.annotations or {})


def test_existing_secret_through_the_default_program(project: Project, rig: Rig, tmp_path: Path) -> None:
    from kubernetes import client

    project.edit_federation(STACK, existing)
    base = load_stack(STACK, REPO / "stacks")
    spec = base.model_copy(update={"hub": base.hub.model_copy(update={
        "create_namespace": False, "tls": base.hub.tls.model_copy(update={"mode": "existingSecret",
                                                                         "secret_name": SECRET})})})
    ns = spec.hub.namespace
    core = rig.core("hub-dev")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=ns, labels={"pod-security.kubernetes.io/enforce": "restricted"})))
    try:
        data = make_certificate(tmp_path / "cert-1", spec)
        core.create_namespaced_secret(ns, client.V1Secret(
            metadata=client.V1ObjectMeta(name=SECRET), type="kubernetes.io/tls", data=data))
        project.init(STACK)

        # 1. up: the Secret is read, never managed; its CA goes to the clients, its checksum onto the pods.
        project.pulumi("up", "--yes", stack=STACK)
        outputs = project.outputs(STACK)
        assert outputs["caCertificate"] == pem(data, "ca.crt")
        assert outputs["superlinkControlAddress"] == hub.api_address(spec)
        checksum = hub.tls_checksum(pem(data, "tls.crt"), pem(data, "ca.crt"))
        for name in (hub.superlink_service_name(spec), f"{spec.name}-fleet-proxy", f"{spec.name}-serverapp-superexec"):
            assert annotations(rig, ns, name)[hub.CHECKSUM_ANNOTATION] == checksum, name
        templates = rig.custom("hub-dev").list_cluster_custom_object(
            "addon.open-cluster-management.io", "v1alpha1", "addontemplates")["items"]
        assert templates and all(json.dumps(pem(data, "ca.crt"))[1:-1] in json.dumps(t) for t in templates)
        state = json.dumps(project.export(STACK))
        # The read Secret is in state (a read resource), its data only as ciphertext.
        assert SECRET in state and data["tls.key"] not in state and "PRIVATE KEY" not in state
        project.pulumi("preview", "--expect-no-changes", stack=STACK)

        # 2. the operator renews the certificate in place: the next up rolls the pods.
        renewed = make_certificate(tmp_path / "cert-2", spec)
        core.replace_namespaced_secret(SECRET, ns, client.V1Secret(
            metadata=client.V1ObjectMeta(name=SECRET), type="kubernetes.io/tls", data=renewed))
        project.pulumi("up", "--yes", stack=STACK)
        new_checksum = hub.tls_checksum(pem(renewed, "tls.crt"), pem(renewed, "ca.crt"))
        assert new_checksum != checksum
        assert annotations(rig, ns, hub.superlink_service_name(spec))[hub.CHECKSUM_ANNOTATION] == new_checksum
        assert project.outputs(STACK)["caCertificate"] == pem(renewed, "ca.crt")

        # 3. a Secret without ca.crt: preview fails with the reason, naming the Secret and the key, no traceback.
        broken = {k: v for k, v in renewed.items() if k != "ca.crt"}
        core.replace_namespaced_secret(SECRET, ns, client.V1Secret(
            metadata=client.V1ObjectMeta(name=SECRET), type="kubernetes.io/tls", data=broken))
        res = project.pulumi("preview", stack=STACK, check=False)
        text = res.stdout + res.stderr
        assert res.returncode != 0
        assert f"federation.hub.tls.secretName: Secret {ns}/{SECRET} has no key 'ca.crt'" in text, text[-3000:]
        assert "Traceback" not in text
        core.replace_namespaced_secret(SECRET, ns, client.V1Secret(
            metadata=client.V1ObjectMeta(name=SECRET), type="kubernetes.io/tls", data=renewed))

        # 4. destroy removes what the program made and leaves the operator's Secret.
        project.pulumi("destroy", "--yes", stack=STACK)
        assert core.read_namespaced_secret(SECRET, ns).data["tls.crt"] == renewed["tls.crt"]
    finally:
        core.delete_namespace(ns)
