"""The Job controller's decisions (pkg/controller/job, 1.32 with its default feature gates), as
pure functions over plain objects.

One sync is three steps, with the API calls between them done by ``job_loop``:

1. ``assess``: which pods are active, ready, terminating; which finished pods are new; whether
   the Job has reached its end (``SuccessCriteriaMet`` when enough pods succeeded,
   ``FailureTarget`` past ``backoffLimit`` or ``activeDeadlineSeconds``), and else how many
   pods to create or which to delete (parallelism, remaining completions, suspension, the
   failure back-off of 10 s doubling to 10 min).
2. ``track``: finished pods go to ``status.uncountedTerminatedPods`` (with the interim
   condition) before their ``batch.kubernetes.io/job-tracking`` finalizer is removed.
3. ``settle``: pods whose finalizer is gone are counted into ``succeeded``/``failed``; once
   nothing is uncounted and no pod is terminating, the final ``Complete`` or ``Failed``
   condition is added (with ``completionTime`` for Complete).

Indexed Jobs get their completion index in an annotation, a label, ``JOB_COMPLETION_INDEX`` and
the hostname; ``completedIndexes`` lists the succeeded ones. Not implemented:
``podFailurePolicy``, ``successPolicy``, ``backoffLimitPerIndex`` (stored; the Job is run as if
they were unset). A Job whose ``managedBy`` names another controller is left to it.
"""

from webhook.cluster.controllers.job.assess import (
    Assessment,
    assess,
    past_backoff_on_failure,
    pod_from_template,
)
from webhook.cluster.controllers.job.track import (
    Tracking,
    finished_events,
    remove_finalizer_patch,
    settle,
    track,
    ttl_remaining,
)
from webhook.cluster.controllers.job.util import (
    BACKOFF_EXCEEDED,
    BATCH_V1,
    COMPLETION_INDEX_ENV,
    COMPLETIONS_REACHED,
    DEADLINE_EXCEEDED,
    DEFAULT_BACKOFF,
    MANAGED_BY,
    MAX_BACKOFF,
    MAX_UNCOUNTED,
    UNKNOWN_INDEX,
    Backoff,
    completion_index,
    condition,
    conditions_of,
    ensure_condition,
    finished_time,
    format_indexes,
    has_finalizer,
    is_finished,
    is_indexed,
    is_pod_failed,
    is_suspended,
    new_condition,
    next_backoff,
    only_replace_failed,
    parse_indexes,
    spec_of,
    status_of,
    succeeded_indexes,
)

__all__ = [
    "BACKOFF_EXCEEDED",
    "BATCH_V1",
    "COMPLETIONS_REACHED",
    "COMPLETION_INDEX_ENV",
    "DEADLINE_EXCEEDED",
    "DEFAULT_BACKOFF",
    "MANAGED_BY",
    "MAX_BACKOFF",
    "MAX_UNCOUNTED",
    "UNKNOWN_INDEX",
    "Assessment",
    "Backoff",
    "Tracking",
    "assess",
    "completion_index",
    "condition",
    "conditions_of",
    "ensure_condition",
    "finished_events",
    "finished_time",
    "format_indexes",
    "has_finalizer",
    "is_finished",
    "is_indexed",
    "is_pod_failed",
    "is_suspended",
    "new_condition",
    "next_backoff",
    "only_replace_failed",
    "parse_indexes",
    "past_backoff_on_failure",
    "pod_from_template",
    "remove_finalizer_patch",
    "settle",
    "spec_of",
    "status_of",
    "succeeded_indexes",
    "track",
    "ttl_remaining",
]
