"""docs/observability.md and docs/kubernetes.md stay true: examples run, names match."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from supervisor.config import load_config_text
from supervisor.http.metrics import StatusCollector
from tests.doc_examples import Example, examples

ROOT = Path(__file__).resolve().parent.parent
OBSERVABILITY = (ROOT / "docs" / "observability.md").read_text()
KUBERNETES = (ROOT / "docs" / "kubernetes.md").read_text()
EXAMPLES = examples("observability.md")


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_the_embedding_example_prints_what_the_page_shows(example: Example) -> None:
    done = subprocess.run(
        [sys.executable, "-c", example.code], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == example.expected_output


def test_every_metric_collected_is_in_the_table() -> None:
    collector = StatusCollector(
        lambda: {"services": [{"name": "a", "state": "ready", "cpu_seconds": 1.0}]}
    )
    names = {family.name for family in collector.collect()}
    names |= {"supervisor_service_start_seconds"}
    counters = {"supervisor_service_restarts", "supervisor_service_cpu_seconds"}
    documented = set(re.findall(r"^\| `(supervisor_\w+)`", OBSERVABILITY, re.M))
    assert documented == {n + "_total" if n in counters else n for n in names}


def test_the_yaml_blocks_are_valid() -> None:
    for block in re.findall(r"```yaml\n(.*?)```", OBSERVABILITY + KUBERNETES, re.S):
        data = yaml.safe_load(block) if "---" not in block else None
        if data is not None and "services" in data:
            load_config_text(block, "docs", {})
        elif "---" in block:
            assert all(doc is not None for doc in yaml.safe_load_all(block))


def test_the_pod_probes_and_grace_period_match_the_supervisor() -> None:
    docs = list(yaml.safe_load_all(next(iter(re.findall(r"```yaml\n(.*?)```", KUBERNETES, re.S)))))
    config = next(d for d in docs if d.get("kind") == "ConfigMap")
    services = load_config_text(config["data"]["services.yaml"], "configmap", {})
    pod = next(d for d in docs if d.get("kind") == "Pod")
    container = pod["spec"]["containers"][0]
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    # the supervisor's own bound, plus a margin for SIGKILL and exit
    assert services.supervisor.shutdown_timeout < grace <= services.supervisor.shutdown_timeout + 15
    http = services.supervisor.http
    assert http is not None and http.listen.endswith(":9100")
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": 9100}
    assert '["supervisor", "status", "--ready"]' in KUBERNETES
    assert "## Live view: supervisor top\n\nSee docs/top.md" in OBSERVABILITY
