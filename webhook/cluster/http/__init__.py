"""The embedded cluster's HTTPS front: kube-apiserver's REST API over ``ClusterAPI``."""
