"""Real MIDI ports: mido over python-rtmidi (ALSA or JACK on Linux, CoreMIDI, Windows MM).

:func:`midi_system` picks a working rtmidi API (``auto``: ALSA when its sequencer device is
there, then JACK, then whatever else is compiled in) and says in one line what to install or
start when there is none. :meth:`MidiSystem.open_input` / :meth:`MidiSystem.open_output` find a
port by its name or a unique part of it (or open a new ``virtual`` one) and, when there is no
such port, list the ones there are. :meth:`MidiSystem.missing` tells a session that a port it
uses has gone away.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

from melodyrnn.errors import PortError

__all__ = ["API_NAMES", "MidiSystem", "midi_system"]

API_NAMES = {  # our name -> rtmidi's (mido's) name
    "alsa": "LINUX_ALSA",
    "jack": "UNIX_JACK",
    "coremidi": "MACOSX_CORE",
    "windows": "WINDOWS_MM",
}
CLIENT = "melodyrnn"
VIRTUAL = "virtual"
INSTALL = "pip install 'melodyrnn[live]' (python-rtmidi)"


@contextlib.contextmanager
def quiet_stderr():
    """C libraries (ALSA, JACK) print their failures to fd 2; they are reported in one line."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _rtmidi():
    try:
        import rtmidi
    except ImportError:
        raise PortError(f"no MIDI backend is installed: {INSTALL}") from None
    return rtmidi


def _candidates(rtmidi, api: str) -> list[str]:
    ours = {getattr(rtmidi, "API_" + v, None): k for k, v in API_NAMES.items()}
    compiled = [ours[v] for v in rtmidi.get_compiled_api() if v in ours]
    if api != "auto":
        if api not in API_NAMES:
            raise PortError(
                f"{{api}} must be auto or one of {', '.join(API_NAMES)}, got {api!r}",
                parameters=("api",),
            )
        if api not in compiled:
            raise PortError(
                f"this python-rtmidi has no {api} support (it has: {', '.join(compiled)})"
            )
        return [api]
    if "alsa" in compiled and not os.path.exists("/dev/snd/seq"):
        compiled.remove("alsa")
        compiled.append("alsa")  # tried last: no sequencer device, it will fail
    return compiled


@dataclass
class MidiSystem:
    """One rtmidi API, opened: list, find and open its ports."""

    api: str  # our name: alsa, jack, ...
    backend: object  # mido.Backend
    _probe_in: object = None
    _probe_out: object = None

    def input_names(self) -> list[str]:
        """Ports one can listen to (a keyboard, a virtual keyboard's output)."""
        return list(dict.fromkeys(self._probe_in.get_ports()))

    def output_names(self) -> list[str]:
        """Ports one can play to (a synth)."""
        return list(dict.fromkeys(self._probe_out.get_ports()))

    def find(self, name: str, direction: str) -> str:
        """The port ``name`` names exactly, or the one port whose name contains it."""
        names = self.input_names() if direction == "input" else self.output_names()
        if name in names:
            return name
        matches = [n for n in names if name.lower() in n.lower()]
        if len(matches) == 1:
            return matches[0]
        listed = ", ".join(repr(n) for n in names) or "none"
        flag = "{input}" if direction == "input" else "{output}"
        if matches:
            raise PortError(
                f"{flag} {name!r} matches several {direction} ports: "
                + ", ".join(repr(n) for n in matches),
                parameters=(direction,),
            )
        raise PortError(
            f"no MIDI {direction} port {name!r} ({self.api}); there are: {listed} "
            f"(or give {flag} {VIRTUAL} for a new port)",
            parameters=(direction,),
        )

    def open_input(self, name: str, callback, client: str = CLIENT):
        """Listen to the port ``name`` names (:meth:`find`), or, for ``virtual``, to a new
        port ``in`` of the client ``melodyrnn-in``; ``callback(message)`` gets every message."""
        if name == VIRTUAL:
            return self._open(self.backend.open_input, "in", True, f"{client}-in", callback)
        return self._open(
            self.backend.open_input, self.find(name, "input"), False, client, callback
        )

    def open_output(self, name: str, client: str = CLIENT):
        """Play to the port ``name`` names, or, for ``virtual``, to a new port ``out`` of the
        client ``melodyrnn-out``."""
        if name == VIRTUAL:
            return self._open(self.backend.open_output, "out", True, f"{client}-out")
        return self._open(self.backend.open_output, self.find(name, "output"), False, client)

    def _open(self, opener, name, virtual, client, callback=None):
        kwargs = {"callback": callback} if callback is not None else {}
        if virtual:  # mido makes a port virtual whenever it is given a client name
            kwargs["client_name"] = client
        try:
            with quiet_stderr():
                return opener(name, virtual=virtual, **kwargs)
        except Exception as exc:  # rtmidi's SystemError, mido's IOError
            raise PortError(f"cannot open MIDI port {name!r} ({self.api}): {exc}") from None

    def missing(self, input_name: str | None, output_name: str | None) -> str | None:
        """The name of the first of these ports that is gone, else None."""
        try:
            if input_name and input_name not in self._probe_in.get_ports():
                return input_name
            if output_name and output_name not in self._probe_out.get_ports():
                return output_name
        except Exception:  # the MIDI system itself went away
            return input_name or output_name
        return None

    def close(self) -> None:
        for probe in (self._probe_in, self._probe_out):
            with contextlib.suppress(Exception):
                probe.delete()


def midi_system(api: str = "auto") -> MidiSystem:
    """A working MIDI system (module docstring), or one PortError line saying what to do."""
    rtmidi = _rtmidi()
    import mido

    tried = []
    for name in _candidates(rtmidi, api):
        constant = getattr(rtmidi, "API_" + API_NAMES[name])
        try:
            with quiet_stderr():
                probe_in = rtmidi.MidiIn(constant, name=f"{CLIENT}-probe")
                probe_out = rtmidi.MidiOut(constant, name=f"{CLIENT}-probe")
        except Exception as exc:
            tried.append(f"{name}: {str(exc).split(': ', 1)[-1]}")
            continue
        backend = mido.Backend(f"mido.backends.rtmidi/{API_NAMES[name]}", load=True)
        return MidiSystem(name, backend, probe_in, probe_out)
    hint = (
        "start a JACK server (jackd -d dummy works without sound hardware) or load ALSA's "
        "sequencer (modprobe snd-seq)"
        if sys.platform.startswith("linux")
        else "check that the system's MIDI service is running"
    )
    raise PortError(f"no MIDI system is running ({'; '.join(tried) or 'none found'}): {hint}")
