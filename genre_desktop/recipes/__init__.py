"""What only rebuilds the bundled models (the teacher pass of distillation); scripts/ import it."""
