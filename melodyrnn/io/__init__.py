"""MIDI files and other formats in and out of NoteSequence: the reader and writer (midi), the
fast symusic reader (midi_fast), the note-seq protobuf converter (note_seq_proto)."""
