"""From audio to an answer: slicing, the one vote and its hedges, calibration, the classifier, the fast path, the sound tagger's not-music check, live listening."""
