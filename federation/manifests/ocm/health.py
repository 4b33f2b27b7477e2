"""ManifestWork condition rules that make OCM's rollouts wait for real Deployment health (pure)."""

from __future__ import annotations

from federation.manifests.common import Obj
from federation.spec import FederationSpec

#: A Deployment that is not yet fully rolled out and available (the current generation observed; every
#: replica updated, ready and available). ManifestWork condition rules (CEL; `object` is the Deployment).
PROGRESSING_CEL = (
    "!(has(object.status.observedGeneration) && object.status.observedGeneration == object.metadata.generation && "
    "has(object.status.updatedReplicas) && object.status.updatedReplicas == object.spec.replicas && "
    "has(object.status.readyReplicas) && object.status.readyReplicas == object.spec.replicas && "
    "has(object.status.availableReplicas) && object.status.availableReplicas == object.spec.replicas)"
)
#: A Deployment that gave up: Kubernetes sets Progressing=False/ProgressDeadlineExceeded after
#: `progressDeadlineSeconds` (600 s by default) without progress (crash loops, unpullable images).
DEGRADED_CEL = (
    "has(object.status.conditions) && object.status.conditions.exists(c, c.type == 'Progressing' && "
    "c.status == 'False' && c.reason == 'ProgressDeadlineExceeded')"
)
#: Every replica of the Deployment is available (the inverse of the rollout part of PROGRESSING_CEL).
AVAILABLE_CEL = (
    "has(object.status.availableReplicas) && object.status.availableReplicas == object.spec.replicas && "
    "has(object.status.updatedReplicas) && object.status.updatedReplicas == object.spec.replicas"
)


def health_rules(deployment: Obj) -> Obj:
    """The ManifestWork condition rules that make an OCM rollout wait for `deployment`'s real health.

    OCM's ManifestWorkReplicaSet rollout reads only the work's `Applied`, `Progressing` and `Degraded`
    conditions, and the agent sets the last two only from condition rules (`manifestworkreplicaset_
    deploy_reconcile.go`, `conditions/helpers.go`): without them no cluster ever counts as rolled out.
    `Progressing` holds while the Deployment is not fully available, `Degraded` once Kubernetes gave up
    on it, so canary groups, `maxFailures`, `minSuccessTime` and `progressDeadline` see crashing pods.
    """
    meta = deployment["metadata"]
    return {
        "resourceIdentifier": {"group": "apps", "resource": "deployments",
                               "namespace": meta["namespace"], "name": meta["name"]},
        "conditionRules": [
            {"condition": "Progressing", "type": "CEL", "celExpressions": [PROGRESSING_CEL],
             "message": "ClientApp SuperExec Deployment not yet fully available"},
            {"condition": "Degraded", "type": "CEL", "celExpressions": [DEGRADED_CEL],
             "message": "ClientApp SuperExec Deployment exceeded its progress deadline"},
        ],
    }


def supernode_health_rule(spec: FederationSpec) -> Obj:
    """The condition rule that makes the addon's rollout wait until the SuperNode Deployment is available.

    The addon manager counts a cluster as rolled out once its ManifestWork is `Applied` and `Available`
    (`addonprogressing` controller), and a work is `Available` once its objects merely exist, unless a
    condition rule decides the manifest's `Available` (the work agent aggregates those). The addon manager
    reads `manifestConfigs` from the ClusterManagementAddOn's default AddOnTemplate only, so every
    template carries the same rule. The name is a wildcard on purpose: an identifier equal to the one the
    health prober adds for the Deployment would have its condition rules dropped (addon-framework
    `agentdeploy/utils.go`).
    """
    return {
        "resourceIdentifier": {"group": "apps", "resource": "deployments",
                               "namespace": spec.distribution.ocm.agent_namespace, "name": "*"},
        "conditionRules": [{"condition": "Available", "type": "CEL", "celExpressions": [AVAILABLE_CEL],
                            "message": "SuperNode Deployment available"}],
    }
