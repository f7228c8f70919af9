"""The README's Python examples run as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(tmp_path, monkeypatch, index):
    shutil.copytree(ROOT / "midi_samples", tmp_path / "midi_samples")
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), {})
    written = {p.name for p in tmp_path.iterdir()} - {"midi_samples"}
    assert written, "every example writes a MIDI file"
    assert all(name.endswith(".mid") for name in written)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2


def test_readme_lists_every_limit():
    from melodyrnn.limits import LIMITS

    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Limits") : text.index("## Development")]
    for spec in LIMITS.values():
        assert f"| `{spec.name}` | {spec.default:,} {spec.unit} |" in section, spec.name
        assert spec.env in section, spec.env
