"""The nightly CronJob recipe is a valid set of Kubernetes objects: server-side dry-run on the
twin's real kube-apiserver (decoding, defaulting, validation, admission; nothing stored). The
twin runs no containers, so the CronJob's Jobs cannot run there."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config, utils

from brixcheck.twin.cluster import TwinLayout

pytestmark = [pytest.mark.twin, pytest.mark.timeout(120)]

CRONJOB = Path(__file__).resolve().parents[2] / "manifests" / "nightly" / "cronjob.yaml"


def test_nightly_cronjob_passes_server_side_dry_run(twin: TwinLayout, namespace: str):
    api = config.new_client_from_config(str(twin.kubeconfig))
    objects = list(yaml.safe_load_all(CRONJOB.read_text()))
    for obj in objects:
        if obj["kind"] != "Namespace":  # into the test's namespace: the dry run stores nothing
            obj["metadata"]["namespace"] = namespace
        utils.create_from_dict(api, obj, dry_run="All")
    cronjob = next(o for o in objects if o["kind"] == "CronJob")
    bad = copy.deepcopy(cronjob)
    bad["spec"]["schedule"] = "every night at two"  # the same path refuses a broken object
    with pytest.raises(utils.FailToCreateError):
        utils.create_from_dict(api, bad, dry_run="All")
    assert not client.BatchV1Api(api).list_namespaced_cron_job(namespace).items
    assert not client.CoreV1Api(api).list_namespaced_persistent_volume_claim(namespace).items
