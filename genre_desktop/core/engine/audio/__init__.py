"""Sound in and out: decoding files (bounded, regular files only), audio sources, log-mel features, playback."""
