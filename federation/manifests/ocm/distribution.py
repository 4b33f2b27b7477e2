"""ClientApp distribution: the SuperExec Deployment shipped by a ManifestWorkReplicaSet."""

from __future__ import annotations

from pathlib import PurePosixPath

from federation import flower
from federation.manifests import common, taskpods
from federation.manifests.common import Obj
from federation.manifests.ocm.health import health_rules
from federation.manifests.ocm.names import (
    ADDON_NAMESPACE_LABEL,
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


def clientapp_task_pods(spec: FederationSpec, app: ClientAppSpec) -> taskpods.TaskPods | None:
    """The ClientApp's task pods (`taskPods.enabled`): each message runs as a Pod that dials the SuperNode."""
    if not app.task_pods.enabled:
        return None
    ns = spec.distribution.ocm.agent_namespace
    name = clientapp_deployment_name(spec, app)
    gpu = app.task_pods.gpu if app.task_pods.gpu is not None else spec.client_app_gpu(app)
    return taskpods.TaskPods(
        spec=spec, task_pods=app.task_pods, owner=name, component="clientapp", superexec_namespace=ns,
        superexec_service_account=f"{name}-executor",
        superexec_selector={**clientapp_selector(spec), CLIENTAPP_LABEL: app.name},
        resource_pool=app.name,
        image=spoke_image(spec, app.task_pods.image or app.image),
        pull_policy=spec.flower.image_pull_policy,
        resources=common.resources(app.resources), gpu=gpu,
        runtime_selector=common.selector_labels(spec, "supernode"), runtime_port=flower.SUPERNODE_RUNTIME_PORT,
        image_pull_secrets=spoke_image_pull_secrets(spec),
        # The task namespace gets the klusterlet's pull credentials like the agent namespace.
        namespace_labels=ADDON_NAMESPACE_LABEL if spec.distribution.ocm.klusterlet_image_pull_credentials else {},
    )


def clientapp_deployment(spec: FederationSpec, app: ClientAppSpec) -> Obj:
    """The ClientApp SuperExec Deployment (process isolation), dialling the SuperNode Service.

    With `taskPods` it runs Flower's Kubernetes executor: it dials the SuperNode by its namespaced name
    (the task pods, in their own namespace, dial the same address), mounts the executor config and API
    credentials, and requests neither the GPU nor GPU nodes (only the task pods do).
    """
    ns = spec.distribution.ocm.agent_namespace
    tasks = clientapp_task_pods(spec, app)
    if tasks is None:
        process = flower.clientapp_superexec(flower.CONTAINER, supernode_host=supernode_name(spec))
    else:
        process = flower.clientapp_superexec(flower.CONTAINER, supernode_host=f"{supernode_name(spec)}.{ns}.svc",
                                             executor_config=flower.executor_config_path())
    vols, mounts = common.scratch_volumes(process)
    # The secret its SuperNode requires (created on the spoke by the SuperNode pod; see
    # addon.superexec_secret_init). Until it exists the kubelet keeps this pod waiting for the volume.
    vols.append({"name": "superexec-secret", "secret": {
        "secretName": spoke_superexec_secret_name(spec), "defaultMode": 0o440,
        "items": [{"key": common.SPOKE_SUPEREXEC_SECRET_KEY, "path": PurePosixPath(flower.CONTAINER.superexec_secret).name}]}})
    mounts.append({"name": "superexec-secret", "mountPath": flower.CONTAINER.secret_dir, "readOnly": True})
    if tasks is not None:
        extra_vols, extra_mounts = taskpods.superexec_volumes(tasks)
        vols += extra_vols
        mounts += extra_mounts
    gpu = spec.client_app_gpu(app) if tasks is None else None
    ctr = common.container(CLIENTAPP_CONTAINER, spoke_image(spec, app.image), process, res=common.resources(app.resources, gpu),
                           mounts=mounts, pull_policy=spec.flower.image_pull_policy)
    pod: Obj = {
        "automountServiceAccountToken": False,
        "shareProcessNamespace": True,  # reaps the per-message flwr-clientapp processes
        "securityContext": common.pod_security_context(),
        "containers": [ctr],
        "volumes": vols,
    }
    if tasks is not None:
        pod["serviceAccountName"] = tasks.superexec_service_account
    if spoke_image_pull_secrets(spec):
        pod["imagePullSecrets"] = spoke_image_pull_secrets(spec)
    if gpu is not None:
        if gpu.node_selector:
            pod["nodeSelector"] = dict(sorted(gpu.node_selector.items()))
        if gpu.tolerations:
            pod["tolerations"] = common.tolerations(gpu.tolerations)
    selector = {**clientapp_selector(spec), CLIENTAPP_LABEL: app.name}
    labels = common.labels(spec, "clientapp", **{CLIENTAPP_LABEL: app.name})
    template: Obj = {"metadata": {"labels": labels}, "spec": pod}
    if tasks is not None:  # the SuperExec reads its executor config once, at start
        template["metadata"]["annotations"] = {taskpods.CONFIG_CHECKSUM_ANNOTATION: taskpods.config_checksum(tasks)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": common.metadata(clientapp_deployment_name(spec, app), ns, labels=labels),
        "spec": {
            "replicas": 1,  # one SuperExec per SuperNode Runtime API
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": template,
        },
    }


def manifest_work_replica_set(spec: FederationSpec, app: ClientAppSpec) -> Obj:
    """The ClientApp's ManifestWorkReplicaSet (needs the hub's `ManifestWorkReplicaSet` feature gate).

    Targets the ClientApp Placements of the app's pools (:func:`~.placement.clientapp_placement`;
    unknown pools are skipped, validation reports them), with the :func:`health_rules` of its Deployment.
    """
    pools = spec.pools_by_name
    deployment = clientapp_deployment(spec, app)
    tasks = clientapp_task_pods(spec, app)
    # With task pods: their namespace, accounts, Role, executor config and policies, then the Deployment.
    manifests = [*(taskpods.objects(tasks) if tasks is not None else []), deployment]
    template: Obj = {
        "workload": {"manifests": manifests},
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
