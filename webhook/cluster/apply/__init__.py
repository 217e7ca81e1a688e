"""Server-side apply for the embedded API server: field sets, merging, managedFields, the verb."""
