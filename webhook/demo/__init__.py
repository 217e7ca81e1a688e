"""``canarist demo``: the guided main job on the embedded cluster (``scenario``)."""
