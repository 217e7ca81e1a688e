"""The release end-to-end tests' cluster (webhook, CRDs, no reconciler: the test runs its own)."""

from tests.release.conftest import release_cluster

__all__ = ["release_cluster"]
