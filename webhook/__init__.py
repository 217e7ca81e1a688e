"""canarist: canary releases for plain Kubernetes Deployments."""

__version__ = "0.1.0"
