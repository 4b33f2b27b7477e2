"""The building blocks one by one: bring your own SuperLink, add two SuperNode pools, the addon and a ClientApp.

No `SuperLink` and no `Federation` here: the SuperLink already runs (anywhere the managed clusters can
reach), so the program describes it with `ExistingSuperLink` (its address and CA come from the stack
config) and composes the blocks by passing one to another. The ordering `pulumi up` and
`pulumi destroy` need follows from those references: no resource options anywhere.
"""

import pulumi
import pulumi_kubernetes as k8s

from components import ClientAppDistribution, ExistingSuperLink, FlowerAddon, SuperNodePool
from federation.spec import ClientAppSpec, GpuSpec, PoolSpec

config = pulumi.Config()

# The namespace of the OCM objects on the hub (Placements, AddOnDeploymentConfigs, ...).
namespace = k8s.core.v1.Namespace("ocm-namespace", metadata={"name": "flower-byo"})

superlink = ExistingSuperLink(
    address=config.require("superlinkAddress"),
    ca_certificate=config.require("caCertificate"),  # public; the addon refuses anything with a private key
    supernode_auth=True,
    name="flower-byo",
    namespace="flower-byo",
    depends_on=[namespace],
)
ocm = {"addonName": "flower-supernode-byo"}

cpu = SuperNodePool("flower-byo-pool-cpu", {
    "pool": PoolSpec.model_validate({
        "name": "cpu",
        "selection": {"clusterSets": ["research"], "numberOfClusters": 8,
                      "labelSelector": {"matchExpressions": [{"key": "accelerator", "operator": "NotIn", "values": ["nvidia"]}]}},
        "isolation": "process",
    }),
    "superlink": superlink,
    "ocm": ocm,
})
gpu = SuperNodePool("flower-byo-pool-gpu", {
    "pool": {
        "name": "gpu",
        "selection": {"clusterSets": ["research"], "numberOfClusters": 2,
                      "labelSelector": {"matchLabels": {"accelerator": "nvidia"}}},
        "gpu": {"resourceName": "nvidia.com/gpu", "count": 1},
        "isolation": "process",
    },
    "superlink": superlink,
    "ocm": ocm,
    "bindings_from": [cpu],  # both pools use the `research` cluster set: one binding, owned by `cpu`
})

addon = FlowerAddon("flower-byo-addon", {"pools": [cpu, gpu], "superlink": superlink, "ocm": ocm})

trainer_cpu = ClientAppDistribution("flower-byo-clientapp-trainer-cpu", {
    "client_app": {"name": "trainer-cpu", "image": "ghcr.io/example/quickstart-numpy-clientapp:1.0.0"},
    "pools": [cpu],
    "addon": addon,
})
trainer_gpu = ClientAppDistribution("flower-byo-clientapp-trainer-gpu", {
    "client_app": ClientAppSpec(name="trainer-gpu", image="ghcr.io/example/quickstart-numpy-clientapp-cuda:1.0.0",
                                pools=["gpu"], gpu=GpuSpec(resource_name="nvidia.com/gpu", count=1)),
    "pools": [gpu],
    "addon": addon,
})

pulumi.export("placementNames", [cpu.placement_name, gpu.placement_name])
pulumi.export("addonName", addon.addon_name)
pulumi.export("templateNames", addon.template_names)
pulumi.export("clientAppNames", [trainer_cpu.manifest_work_replica_set_name, trainer_gpu.manifest_work_replica_set_name])
