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


# ---- A real relay process on loopback, with people bootstrapped through its admin CLI ----

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402

def fieldsync_bin():
    """The `fieldsync` relay binary built from this workspace by scripts/gen-bindings.sh, which
    writes its path to bindings/generated/relay-bin; FIELDSYNC_BIN overrides."""
    if os.environ.get("FIELDSYNC_BIN"):
        return pathlib.Path(os.environ["FIELDSYNC_BIN"])
    binary = pathlib.Path((GENERATED.parent / "relay-bin").read_text().strip())
    if not binary.is_file():
        raise RuntimeError(f"{binary} is missing: run scripts/gen-bindings.sh (it builds the relay too)")
    return binary


class Relay:
    """`fieldsync serve` on a free loopback port, in its own data directory."""

    def __init__(self, data_dir, reps=2, supervisors=0, env=None):
        self.binary = fieldsync_bin()
        self.data_dir = data_dir
        boot = self.admin("bootstrap", "--reps", str(reps), "--supervisors", str(supervisors))
        self.tenant_id = boot["tenant_id"]
        self.users = boot["users"]
        self.codes = [user["code"] for user in boot["users"]]
        self.process = subprocess.Popen(
            [str(self.binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "RUST_LOG": "warn", **(env or {})},
        )
        line = self.process.stdout.readline().strip()
        prefix = "fieldsync relay listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"the relay did not start: {line!r}")
        self.url = line[len(prefix):]

    def admin(self, *args):
        out = subprocess.run(
            [str(self.binary), "admin", "--data-dir", str(self.data_dir), *args],
            check=True, capture_output=True, text=True,
        )
        return json.loads(out.stdout)

    def blob_path(self, sha256):
        return self.data_dir / "blobs" / self.tenant_id / sha256[:2] / sha256

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


@pytest.fixture
def relay(tmp_path):
    """A real relay process with two reps and a supervisor of one team bootstrapped (codes 0, 1:
    the reps; 2: the supervisor); killed at teardown."""
    running = Relay(tmp_path / "relay-data", reps=2, supervisors=1)
    yield running
    running.stop()
