"""What "train on my library" runs; it may import the engine, never the GUI or the recipes."""
