"""Loads the generated `fieldsync_ffi` module (and through it the real libfieldsync_ffi) for the tests.

The bindings and the library are produced by scripts/gen-bindings.sh into bindings/generated/python;
nothing here is a stub, so every test crosses the real FFI into the Rust core.
"""

import pathlib
import sys

import pytest

GENERATED = pathlib.Path(__file__).resolve().parents[2] / "generated" / "python"

if not (GENERATED / "fieldsync_ffi.py").is_file():
    raise RuntimeError(f"{GENERATED}/fieldsync_ffi.py is missing: run scripts/gen-bindings.sh first")
sys.path.insert(0, str(GENERATED))

import fieldsync_ffi  # noqa: E402  (needs the path above)

assert pathlib.Path(fieldsync_ffi.__file__).resolve().parent == GENERATED, (
    f"imported fieldsync_ffi from {fieldsync_ffi.__file__}, not from {GENERATED}"
)


@pytest.fixture
def store_path(tmp_path):
    """Path of a store file that does not exist yet, in a fresh temporary directory."""
    return str(tmp_path / "device.fieldsync")


@pytest.fixture
def store(store_path):
    """An open store; closed explicitly at teardown (STYLE §4: never left to garbage collection)."""
    opened = fieldsync_ffi.FieldStore.open(store_path)
    yield opened
    opened.close()  # idempotent: fine after a test that closed it itself
