"""Looking and listening: piano-roll PNGs and WAV audio of a NoteSequence or MIDI file."""
