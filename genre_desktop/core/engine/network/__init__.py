"""The networks: architectures, the genre CNN and the sound tagger, ONNX Runtime, thread budgets."""
