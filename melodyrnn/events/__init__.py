"""Event representations of music: melodies, drum tracks and chord progressions."""
