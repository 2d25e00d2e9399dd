"""GatewayCache: what the core feeds is what the algorithms read, scoped as v0.5.0 scopes it."""

from __future__ import annotations

import threading

from brixcheck.gateway_plugin.state import GatewayCache, deployment_of
from brixcheck.gateway_plugin.types import Histogram
from tests.unit.gateway_plugin.conftest import MODEL, make_ctx, make_pod, occupy


def test_unlabelled_pod_model_metric_belongs_to_the_pods_model(cache, pods):
    cache.set_pod_metrics(pods[0], {"gpu_cache_usage_perc": 0.4}, {})
    assert cache.metric(pods[0], MODEL, "gpu_cache_usage_perc") == 0.4
    assert cache.metric(pods[0], "other", "gpu_cache_usage_perc") is None
    assert cache.metric(pods[1], MODEL, "gpu_cache_usage_perc") is None


def test_model_labelled_values_are_kept_per_model(cache, pods):
    cache.set_pod_metrics(pods[0], {}, {"lora-a": {"num_requests_running": 3.0}})
    assert cache.metric(pods[0], "lora-a", "num_requests_running") == 3.0
    assert cache.metric(pods[0], MODEL, "num_requests_running") is None


def test_pod_scope_metrics_ignore_the_model(cache, pods):
    cache.set_pod_metrics(pods[0], {}, {"x": {"max_lora": {"max_lora": "4"}}})
    assert cache.metric(pods[0], "anything", "max_lora") == {"max_lora": "4"}


def test_a_scrape_overwrites_but_never_forgets_until_cleared(cache, pods):
    ttft = Histogram(buckets={0.1: 1.0}, sum=0.05, count=1.0)
    cache.set_pod_metrics(pods[0], {"gpu_cache_usage_perc": 0.4}, {})
    cache.set_pod_metrics(pods[0], {"time_to_first_token_seconds": ttft}, {})
    assert cache.metric(pods[0], MODEL, "gpu_cache_usage_perc") == 0.4
    assert cache.metric(pods[0], MODEL, "time_to_first_token_seconds") == ttft
    cache.clear_pod_metrics(pods[0])
    assert cache.metric(pods[0], MODEL, "gpu_cache_usage_perc") is None


def test_request_counts_follow_routed_requests(cache, pods):
    occupy(cache, pods[1], 3)
    ctx = make_ctx()
    ctx.target = pods[1]
    cache.done_request(ctx, 10, 20)
    assert [cache.running_requests(p) for p in pods] == [0, 2, 0]
    unrouted = make_ctx()
    cache.add_request_count(unrouted)  # counted in the model's trace only
    trace = cache.take_trace(MODEL)
    assert (trace.started, trace.finished, trace.tokens) == (4, 1, [(10, 20)])


def test_set_pods_drops_the_state_of_vanished_pods(cache, pods):
    occupy(cache, pods[0], 2)
    cache.set_pod_metrics(pods[0], {"gpu_cache_usage_perc": 0.4}, {})
    cache.set_pods(pods[1:])
    assert cache.list_pods_by_model(MODEL) == tuple(pods[1:])
    cache.set_pods(pods)
    assert cache.running_requests(pods[0]) == 0
    assert cache.metric(pods[0], MODEL, "gpu_cache_usage_perc") is None


def test_metrics_of_an_unknown_pod_are_not_stored(cache):
    stranger = make_pod("pod-9")
    cache.set_pod_metrics(stranger, {"gpu_cache_usage_perc": 0.1}, {})
    assert cache.metric(stranger, MODEL, "gpu_cache_usage_perc") is None


def test_counts_stay_exact_under_threads(cache, pods):
    def work():
        for _ in range(2000):
            ctx = make_ctx()
            ctx.target = pods[0]
            cache.add_request_count(ctx)
            cache.done_request(ctx, 0, 0)
            cache.add_request_count(ctx)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.running_requests(pods[0]) == 8000


def test_profiles_keep_the_newest_and_can_be_removed():
    cache = GatewayCache()
    profile = {"gpu": "dep", "indexes": [[1, 2], [1, 2]], "tputs": [[1, 1], [1, 1]],
               "e2e": [[1, 1], [1, 1]], "slos": {"e2e": 2}, "created": 2.0}
    cache.set_model_profile(MODEL, profile)
    cache.set_model_profile(MODEL, {**profile, "created": 1.0, "slos": {"e2e": 9}})
    assert cache.profile(MODEL, "dep").slos == {"e2e": 2.0}
    cache.set_model_profile(MODEL, None)
    assert cache.profile(MODEL, "dep") is None


def test_deployment_comes_from_labels_else_the_pod_name():
    assert deployment_of(make_pod("web-7d4b9c-x2k9p1")) == "web"
    assert deployment_of(make_pod("pod-1", **{"app.kubernetes.io/name": "llama"})) == "llama"
