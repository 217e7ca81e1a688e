"""Stopping the cluster ends open watch streams cleanly, as kube-apiserver does on shutdown
(clients see the stream end and re-watch; nothing is left running on a closed loop)."""

from __future__ import annotations

import logging
import threading

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch

from webhook.cluster.runtime import start_in_thread


def test_stop_ends_open_watches_without_errors(caplog: pytest.LogCaptureFixture) -> None:
    cluster = start_in_thread(without=frozenset({"controllers", "kubelet", "webhook",
                                                 "reconciler"}))
    api = k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig))
    core = k8s.CoreV1Api(api)
    seen: list[str] = []
    ended = threading.Event()

    def follow() -> None:
        # timeout_seconds makes the client return when the server ends the stream
        # (only "a": every namespace also holds the kube-root-ca.crt ConfigMap)
        for event in watch.Watch().stream(core.list_namespaced_config_map, "default",
                                          field_selector="metadata.name=a",
                                          timeout_seconds=60, _request_timeout=30):
            seen.append(event["type"])
        ended.set()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    core.create_namespaced_config_map(
        "default", k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="a"))
    )
    with caplog.at_level(logging.ERROR):
        try:
            for _ in range(100):
                if seen:
                    break
                threading.Event().wait(0.05)
            assert seen == ["ADDED"]
            cluster.stop()
            assert ended.wait(5), "the watch stream did not end when the cluster stopped"
        finally:
            api.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [e for e in errors if "asynchronous generator" in e], errors
