"""ClientApp distribution: the SuperExec Deployment shipped by a ManifestWorkReplicaSet."""

from __future__ import annotations

from pathlib import PurePosixPath

from federation import flower
from federation.manifests import common
from federation.manifests.common import Obj
from federation.manifests.ocm.health import health_rules
from federation.manifests.ocm.names import (
    API_WORK,
    CLIENTAPP_CONTAINER,
    CLIENTAPP_LABEL,
    MWRS_AWAIT,
    clientapp_deployment_name,
    clientapp_placement_name,
    clientapp_selector,
    mwrs_name,
    spoke_image,
    spoke_image_pull_secrets,
    spoke_superexec_secret_name,
    supernode_name,
)
from federation.manifests.ocm.placement import rollout_strategy
from federation.spec import ClientAppSpec, FederationSpec


def clientapp_deployment(spec: FederationSpec, app: ClientAppSpec) -> Obj:
    """The ClientApp SuperExec Deployment (process isolation), dialling the SuperNode Service."""
    ns = spec.distribution.ocm.agent_namespace
    process = flower.clientapp_superexec(flower.CONTAINER, supernode_host=supernode_name(spec))
    vols, mounts = common.scratch_volumes(process)
    # The secret its SuperNode requires (created on the spoke by the SuperNode pod; see
    # addon.superexec_secret_init). Until it exists the kubelet keeps this pod waiting for the volume.
    vols.append({"name": "superexec-secret", "secret": {
        "secretName": spoke_superexec_secret_name(spec), "defaultMode": 0o440,
        "items": [{"key": common.SPOKE_SUPEREXEC_SECRET_KEY, "path": PurePosixPath(flower.CONTAINER.superexec_secret).name}]}})
    mounts.append({"name": "superexec-secret", "mountPath": flower.CONTAINER.secret_dir, "readOnly": True})
    gpu = spec.client_app_gpu(app)
    ctr = common.container(CLIENTAPP_CONTAINER, spoke_image(spec, app.image), process, res=common.resources(app.resources, gpu),
                           mounts=mounts, pull_policy=spec.flower.image_pull_policy)
    pod: Obj = {
        "automountServiceAccountToken": False,
        "shareProcessNamespace": True,  # reaps the per-message flwr-clientapp processes
        "securityContext": common.pod_security_context(),
        "containers": [ctr],
        "volumes": vols,
    }
    if spoke_image_pull_secrets(spec):
        pod["imagePullSecrets"] = spoke_image_pull_secrets(spec)
    if gpu is not None:
        if gpu.node_selector:
            pod["nodeSelector"] = dict(sorted(gpu.node_selector.items()))
        if gpu.tolerations:
            pod["tolerations"] = common.tolerations(gpu.tolerations)
    selector = {**clientapp_selector(spec), CLIENTAPP_LABEL: app.name}
    labels = common.labels(spec, "clientapp", **{CLIENTAPP_LABEL: app.name})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": common.metadata(clientapp_deployment_name(spec, app), ns, labels=labels),
        "spec": {
            "replicas": 1,  # one SuperExec per SuperNode Runtime API
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def manifest_work_replica_set(spec: FederationSpec, app: ClientAppSpec) -> Obj:
    """The ClientApp's ManifestWorkReplicaSet (needs the hub's `ManifestWorkReplicaSet` feature gate).

    Targets the ClientApp Placements of the app's pools (:func:`~.placement.clientapp_placement`;
    unknown pools are skipped, validation reports them), with the :func:`health_rules` of its Deployment.
    """
    pools = spec.pools_by_name
    deployment = clientapp_deployment(spec, app)
    template: Obj = {
        "workload": {"manifests": [deployment]},
        "deleteOption": {"propagationPolicy": "Foreground"},
        "manifestConfigs": [health_rules(deployment)],
    }
    refs = [{"name": clientapp_placement_name(spec, pools[n]), "rolloutStrategy": rollout_strategy(app.rollout_strategy)}
            for n in app.pools if n in pools]
    return {
        "apiVersion": API_WORK,
        "kind": "ManifestWorkReplicaSet",
        "metadata": common.metadata(mwrs_name(spec, app), spec.ocm_namespace,
                                    labels=common.labels(spec, "clientapp", **{CLIENTAPP_LABEL: app.name}),
                                    annotations=MWRS_AWAIT),
        "spec": {
            "cascadeDeletionPolicy": "Background",
            "placementRefs": sorted(refs, key=lambda r: str(r["name"])),
            "manifestWorkTemplate": template,
        },
    }
