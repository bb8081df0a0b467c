"""What the app runs: decode, features, bundles, registry, networks, verdicts, live, playback."""
