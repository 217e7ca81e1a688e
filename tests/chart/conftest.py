"""The chart tests' cluster: the API server alone (helm refusing values creates nothing)."""

from tests.cluster.conftest import api_cluster

__all__ = ["api_cluster"]
