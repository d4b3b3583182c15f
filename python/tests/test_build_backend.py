"""The build backend keeps its Swift build only while the sources it was made from are the same: a release build
inlines functions across modules, and SwiftPM's incremental build does not recompile the callers of a function whose
body changed (an install over an earlier build then ran old code, or failed to import on an undefined symbol)."""
import importlib.util
import os

import pytest

BACKEND = os.path.join(os.path.dirname(__file__), "..", "build_backend.py")


@pytest.fixture
def backend(tmp_path, monkeypatch):
    """The backend module, pointed at a package of its own in tmp_path (Package.swift and two sources)."""
    spec = importlib.util.spec_from_file_location("swiftgan_build_backend_under_test", BACKEND)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "Sources" / "A").mkdir(parents=True)
    (tmp_path / "Sources" / "B").mkdir()
    (tmp_path / "Package.swift").write_text("// package\n")
    (tmp_path / "Sources" / "A" / "a.swift").write_text("@inlinable public func f() -> Int { 1 }\n")
    (tmp_path / "Sources" / "B" / "b.swift").write_text("import A\npublic func g() -> Int { f() }\n")
    monkeypatch.setattr(module, "ROOT", str(tmp_path))
    monkeypatch.setattr(module, "SCRATCH", str(tmp_path / ".build-python"))
    return module


def fingerprint(backend):
    return backend.sources_fingerprint("/bin/echo")  # a stand-in for `swift --version`


def built(backend, fp):
    """The folder as a finished build leaves it: prepared, something built, the stamp written."""
    backend.prepare_scratch(fp)
    with open(os.path.join(backend.SCRATCH, "object.o"), "w") as f:
        f.write("built")
    with open(os.path.join(backend.SCRATCH, backend.STAMP), "w") as f:
        f.write(fp + "\n")


def test_the_same_sources_keep_the_build(backend):
    fp = fingerprint(backend)
    built(backend, fp)
    backend.prepare_scratch(fingerprint(backend))
    assert os.path.exists(os.path.join(backend.SCRATCH, "object.o"))


@pytest.mark.parametrize("change", ["body", "new file", "rename", "Package.swift"])
def test_any_change_of_the_sources_starts_the_build_clean(backend, change, tmp_path):
    built(backend, fingerprint(backend))
    a = tmp_path / "Sources" / "A" / "a.swift"
    if change == "body":  # only an inlinable body: what SwiftPM's incremental build missed
        a.write_text("@inlinable public func f() -> Int { 2 }\n")
    elif change == "new file":
        (tmp_path / "Sources" / "A" / "c.swift").write_text("let c = 3\n")
    elif change == "rename":
        a.rename(tmp_path / "Sources" / "A" / "a2.swift")
    else:
        (tmp_path / "Package.swift").write_text("// package, edited\n")
    new = fingerprint(backend)
    backend.prepare_scratch(new)
    assert not os.path.exists(os.path.join(backend.SCRATCH, "object.o"))
    assert os.path.exists(os.path.join(backend.SCRATCH, backend.MARKER))
    assert not os.path.exists(os.path.join(backend.SCRATCH, backend.STAMP))  # written only after a build succeeds


def test_a_build_that_did_not_finish_is_not_kept(backend):
    backend.prepare_scratch(fingerprint(backend))  # no stamp: the build failed or was interrupted
    with open(os.path.join(backend.SCRATCH, "object.o"), "w") as f:
        f.write("half")
    backend.prepare_scratch(fingerprint(backend))
    assert not os.path.exists(os.path.join(backend.SCRATCH, "object.o"))


def test_a_folder_the_backend_did_not_make_is_left_alone(backend):
    os.makedirs(backend.SCRATCH)
    mine = os.path.join(backend.SCRATCH, "notes.txt")
    with open(mine, "w") as f:
        f.write("a user's file")
    with pytest.raises(SystemExit, match="exists but was not made by SwiftGAN's build backend"):
        backend.prepare_scratch(fingerprint(backend))
    assert open(mine).read() == "a user's file"
