"""Playing live: call and response with a model, on real MIDI ports or inside any event loop.

* :mod:`~melodyrnn.live.phrase`: the beat grid, a MIDI clock's tempo, a call and when it ends;
* :mod:`~melodyrnn.live.answer`: a call as a real-file primer, continued by the model;
* :mod:`~melodyrnn.live.call_response`: :class:`CallAndResponse`, timed messages in and out;
* :mod:`~melodyrnn.live.scheduler`: sending on time, on the monotonic clock;
* :mod:`~melodyrnn.live.log`: the session log as a MIDI file;
* :mod:`~melodyrnn.live.ports`: mido over python-rtmidi (ALSA, JACK, CoreMIDI, Windows MM);
* :mod:`~melodyrnn.live.session`: the ``melodyrnn jam`` loop tying them together.
"""
