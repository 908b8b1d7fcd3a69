"""The Kubernetes manifests of deploy/k8s, rendered and checked without a
cluster or a kubectl binary.

    python -m scripts.k8s validate     # every overlay; `make k8s-validate`
    python -m scripts.k8s render deploy/k8s/overlays/production

`render` is kustomize for the subset the manifests use: `resources` (files
and directories with a kustomization), strategic-merge `patches` (a patch
names its target by kind and name; lists of named items merge by name, as
containers and env do), `images` and `namespace`. `validate` checks each
overlay's output against the Kubernetes schemas (kubernetes-validate), and
what no schema says: each KEDA object's fields, and that the manifests agree
with the code (each service deployed, its queues autoscaled, its metrics
port probed, its stop inside the pod's grace period).
"""
import sys
from pathlib import Path

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy/k8s"
KUBERNETES_VERSION = "1.30.0"
KEDA = "keda.sh/v1alpha1"
CLUSTER_WIDE = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


def render(directory):
    """The resources of the kustomization in `directory`, patched."""
    directory = Path(directory)
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    resources = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        resources += render(path) if path.is_dir() else _documents(path)
    for patch in kustomization.get("patches", []):
        for change in _documents(directory / patch["path"]):
            target = _find(resources, change["kind"], change["metadata"]["name"])
            merged = _merge(target, change)
            target.clear()
            target.update(merged)
    for image in kustomization.get("images", []):
        for container in _containers(resources):
            if container["image"].split(":")[0] == image["name"]:
                container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_WIDE:
                resource["metadata"]["namespace"] = kustomization["namespace"]
    return resources


def _documents(path):
    return [doc for doc in yaml.safe_load_all(Path(path).read_text()) if doc]


def _find(resources, kind, name):
    for resource in resources:
        if (resource["kind"], resource["metadata"]["name"]) == (kind, name):
            return resource
    raise ValueError(f"a patch targets {kind}/{name}, which no resource is")


def _merge(base, change):
    """`change` over `base`: maps merge, lists of named maps merge by name,
    anything else is replaced."""
    if isinstance(base, dict) and isinstance(change, dict):
        return {**base, **{key: _merge(base[key], value) if key in base else value
                           for key, value in change.items()}}
    if isinstance(base, list) and isinstance(change, list) and _named(base) and _named(change):
        merged = {item["name"]: item for item in base}
        for item in change:
            merged[item["name"]] = _merge(merged.get(item["name"], {}), item)
        return list(merged.values())
    return change


def _named(items):
    return all(isinstance(item, dict) and "name" in item for item in items)


def _containers(resources):
    for resource in resources:
        spec = resource.get("spec", {}).get("template", {}).get("spec", {})
        yield from spec.get("containers", [])


def kustomizations():
    return [K8S / "base", *sorted((K8S / "overlays").iterdir())]


def problems(resources):
    """What is wrong with rendered `resources`, as sentences."""
    found = []
    for resource in resources:
        name = f"{resource['kind']}/{resource['metadata']['name']}"
        if resource["apiVersion"] == KEDA:
            found += [f"{name}: {problem}" for problem in keda_problems(resource, resources)]
            continue
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            found.append(f"{name}: {exc.message} at {'.'.join(map(str, exc.path))}")
    return found + agreement_problems(resources)


def keda_problems(resource, resources):
    """The fields KEDA requires of a ScaledObject and a TriggerAuthentication
    (keda.sh/v1alpha1), and that their references resolve."""
    spec = resource.get("spec") or {}
    if resource["kind"] == "TriggerAuthentication":
        refs = spec.get("secretTargetRef") or []
        return [] if refs and all({"parameter", "name", "key"} <= set(ref) for ref in refs) else [
            "secretTargetRef needs parameter, name and key"]
    if resource["kind"] != "ScaledObject":
        return [f"unknown KEDA kind {resource['kind']}"]
    found = []
    target = spec.get("scaleTargetRef", {}).get("name")
    if not any(r["kind"] == "Deployment" and r["metadata"]["name"] == target for r in resources):
        found.append(f"scaleTargetRef names no Deployment ({target})")
    if not 0 <= spec.get("minReplicaCount", 0) <= spec.get("maxReplicaCount", 100):
        found.append("minReplicaCount above maxReplicaCount")
    for trigger in spec.get("triggers") or [None]:
        metadata = (trigger or {}).get("metadata", {})
        if (trigger or {}).get("type") != "rabbitmq" or not metadata.get("queueName"):
            found.append("each trigger is rabbitmq, with a queueName")
        elif metadata.get("mode") not in ("QueueLength", "MessageRate") or not str(
                metadata.get("value", "")).isdigit():
            found.append(f"{metadata['queueName']}: mode QueueLength or MessageRate, a value")
        auth = trigger.get("authenticationRef", {}).get("name") if trigger else None
        if trigger and not any(r["kind"] == "TriggerAuthentication"
                               and r["metadata"]["name"] == auth for r in resources):
            found.append(f"authenticationRef names no TriggerAuthentication ({auth})")
    return found


def agreement_problems(resources):
    """Where the manifests and the code disagree."""
    from shared import broker
    from shared.settings import ServiceSettings
    from shared.settings.models import METRICS_PORTS

    found = []
    deployments = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Deployment"}
    scaled = {r["spec"]["scaleTargetRef"]["name"]: r for r in resources
              if r["kind"] == "ScaledObject"}
    [config] = [r["data"] for r in resources if r["kind"] == "ConfigMap"]
    grace = float(config.get("STOP_GRACE_SECONDS",
                             ServiceSettings.model_fields["STOP_GRACE_SECONDS"].default))
    for name, service in broker.services().items():
        deployment = deployments.get(name)
        if deployment is None:
            found.append(f"{name}: no Deployment")
            continue
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        if container.get("command") != ["python", "-m", "shared.serve", name]:
            found.append(f"{name}: not started by python -m shared.serve {name}")
        if pod.get("terminationGracePeriodSeconds", 30) <= grace:
            found.append(f"{name}: terminationGracePeriodSeconds not above STOP_GRACE_SECONDS")
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        if ports.get("metrics") != METRICS_PORTS[name] or config.get(
                f"{name.upper()}_METRICS_ADDRESS") != f"0.0.0.0:{METRICS_PORTS[name]}":
            found.append(f"{name}: metrics port not {METRICS_PORTS[name]} on 0.0.0.0")
        if not {"livenessProbe", "readinessProbe", "resources"} <= set(container):
            found.append(f"{name}: a probe or its resources missing")
        queues = ([f"rpc-{name}"] if service.answers else []) + [q for *_, q in service.consumes]
        if service.consumes:
            triggers = [t["metadata"]["queueName"] for t in scaled.get(name, {}).get(
                "spec", {}).get("triggers", [])]
            if sorted(triggers) != sorted(queues):
                found.append(f"{name}: its ScaledObject's queues are not {queues}")
    return found


def main(argv):
    if argv[:1] == ["render"] and len(argv) == 2:
        print(yaml.safe_dump_all(render(argv[1]), sort_keys=False), end="")
        return 0
    if argv != ["validate"]:
        sys.exit(__doc__.split("\n\n")[1])
    failed = False
    for directory in kustomizations():
        found = problems(render(directory))
        print(f"{directory.relative_to(ROOT)}: {'; '.join(found) or 'valid'}")
        failed |= bool(found)
    return int(failed)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
