"""The Kubernetes manifests render (kustomize's subset, scripts.k8s), pass
the Kubernetes schemas and agree with the code; and the checks catch what
they are there to catch."""
import copy

import pytest
import yaml

from scripts import k8s


@pytest.fixture(scope="module")
def production():
    return k8s.render(k8s.K8S / "overlays/production")


@pytest.mark.parametrize("directory", k8s.kustomizations(), ids=lambda path: path.name)
def test_every_kustomization_renders_valid_and_agrees_with_the_code(directory):
    assert k8s.problems(k8s.render(directory)) == []


def test_the_production_overlay_patches_its_namespace_image_and_settings(production):
    [config] = [r for r in production if r["kind"] == "ConfigMap"]
    [hpa] = [r for r in production if r["kind"] == "HorizontalPodAutoscaler"]

    assert {r["metadata"]["namespace"] for r in production} == {"open-event"}
    assert {c["image"] for c in k8s._containers(production)} == {
        "registry.example.com/open-event-services:1.0.0"}
    assert config["data"]["PUBLIC_BASE_URL"] == "https://events.example.com"
    assert config["data"]["ENVIRONMENT"] == "production"  # the base's, kept
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["scaleTargetRef"]["name"]) == (3, "gateway")


def test_a_patch_of_a_resource_that_is_not_there_is_refused(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(
        {"resources": [str(k8s.K8S / "base")], "patches": [{"path": "patch.yaml"}]}))
    (tmp_path / "patch.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "billing"}}))

    with pytest.raises(ValueError, match="Deployment/billing"):
        k8s.render(tmp_path)


def test_named_lists_merge_by_name_and_others_are_replaced():
    base = {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}], "args": [1]}
    change = {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}], "args": [2]}

    assert k8s._merge(base, change) == {
        "containers": [{"name": "a", "env": [{"name": "X", "value": "1"},
                                             {"name": "Y", "value": "2"}]}], "args": [2]}


def changed(resources, kind, name, change):
    resources = copy.deepcopy(resources)
    change(k8s._find(resources, kind, name))
    return k8s.problems(resources)


def test_a_field_the_schema_does_not_know_is_found(production):
    found = changed(production, "Deployment", "events",
                    lambda d: d["spec"]["template"]["spec"].update(replicaz=2))

    assert any(problem.startswith("Deployment/events:") for problem in found)


def test_a_handler_queue_without_autoscaling_is_found(production):
    found = changed(production, "ScaledObject", "media",
                    lambda s: s["spec"]["triggers"].pop())

    assert any(problem.startswith("media: its ScaledObject's queues") for problem in found)


def test_a_scaled_object_without_its_authentication_is_found(production):
    found = changed(production, "ScaledObject", "roles", lambda s: s["spec"]["triggers"][0]
                    .update(authenticationRef={"name": "nobody"}))

    assert "ScaledObject/roles: authenticationRef names no TriggerAuthentication (nobody)" in found


def test_a_grace_period_shorter_than_the_stop_is_found(production):
    found = changed(production, "Deployment", "gateway", lambda d: d["spec"]["template"][
        "spec"].update(terminationGracePeriodSeconds=20))

    assert "gateway: terminationGracePeriodSeconds not above STOP_GRACE_SECONDS" in found
