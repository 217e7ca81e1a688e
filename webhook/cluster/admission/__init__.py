"""The embedded cluster's mutating admission chain (calls MutatingWebhookConfigurations)."""
