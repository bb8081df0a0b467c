"""Model bundles on disk: metadata, loading/saving, the registry of bundled and user models, names, shared weights, open-set statistics."""
