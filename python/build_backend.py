"""The PEP 517 build backend of SwiftGAN: setuptools, with the Swift library built first.

`pip install .` loads this module (pyproject.toml: build-backend, backend-path). Its `BuildWithSwift`
command runs `swift build -c release --product swiftgan` in a build folder of its own (`.build-python`),
puts libswiftgan.so into the package and links the CPython extension declared in pyproject.toml against it
with an $ORIGIN rpath. Needs the Swift toolchain (`swift` on PATH, or $SWIFT), Debian's libdnnl-dev,
libopenblas-openmp-dev and python3-dev.

The release build optimises across modules (Package.swift: `-cross-module-optimization`), so a function of one
module is compiled into the modules that call it; SwiftPM's incremental build does not recompile those callers
when only the function's body changed, and an install over an earlier build could then run the old code or fail
to load (an undefined symbol). So the folder's build is kept only while the sources it was made from are the
same (a SHA-256 of `Package.swift`, every file under `Sources/` and the toolchain's version); otherwise the build
starts clean (about 35 s on 2 cores).
"""
import hashlib
import os
import shutil
import subprocess
import sys

from setuptools.build_meta import *  # noqa: F401,F403  (the PEP 517 hooks)
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The backend's build folder (ignored by git: `.build-*`), and the files in it that say it is the backend's and
# which sources its build was made from.
SCRATCH = os.path.join(ROOT, ".build-python")
MARKER = "made-by-swiftgan-build-backend"
STAMP = "sources.sha256"


def swift_executable():
    for candidate in (os.environ.get("SWIFT"), shutil.which("swift"), "/opt/swift/usr/bin/swift"):
        if candidate and os.path.exists(candidate):
            return candidate
    sys.exit("error: the Swift toolchain was not found: put `swift` on PATH or set SWIFT=/path/to/swift")


def sources_fingerprint(swift):
    """A SHA-256 of what the Swift library is built from: Package.swift, every file under Sources/ (paths and
    contents) and the toolchain's version."""
    digest = hashlib.sha256()
    paths = [os.path.join(ROOT, "Package.swift")]
    for folder, dirs, files in os.walk(os.path.join(ROOT, "Sources")):
        dirs.sort()
        paths += [os.path.join(folder, name) for name in sorted(files)]
    for path in paths:
        digest.update(os.path.relpath(path, ROOT).encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(hashlib.sha256(f.read()).digest())
    digest.update(subprocess.check_output([swift, "--version"], stderr=subprocess.STDOUT))
    return digest.hexdigest()


def prepare_scratch(fingerprint):
    """The backend's build folder, emptied when its build was made from other sources (or never finished)."""
    stamp = os.path.join(SCRATCH, STAMP)
    if os.path.isdir(SCRATCH):
        if not os.path.exists(os.path.join(SCRATCH, MARKER)):
            sys.exit(f"error: {SCRATCH} exists but was not made by SwiftGAN's build backend; move it away and "
                     "install again")
        previous = None
        if os.path.exists(stamp):
            with open(stamp) as f:
                previous = f.read().strip()
        if previous == fingerprint:
            return
        print("swiftgan: the sources changed since the last build: building from clean", flush=True)
        shutil.rmtree(SCRATCH)
    os.makedirs(SCRATCH)
    open(os.path.join(SCRATCH, MARKER), "w").close()


class BuildWithSwift(build_ext):
    """Builds the Swift product first, then links the extension to it."""

    def run(self):
        swift = swift_executable()
        fingerprint = sources_fingerprint(swift)
        prepare_scratch(fingerprint)
        command = [swift, "build", "-c", "release", "--product", "swiftgan", "--scratch-path", SCRATCH]
        print("swiftgan: " + " ".join(command), flush=True)
        subprocess.check_call(command, cwd=ROOT)
        with open(os.path.join(SCRATCH, STAMP), "w") as f:  # written once the build succeeded
            f.write(fingerprint + "\n")
        bin_path = subprocess.check_output(command[:4] + ["--scratch-path", SCRATCH, "--show-bin-path"], cwd=ROOT,
                                           text=True).strip()
        library = os.path.join(bin_path, "libswiftgan.so")
        for extension in self.extensions:
            extension.library_dirs.append(bin_path)
        package_dir = os.path.join(self.build_lib, "swiftgan")
        os.makedirs(package_dir, exist_ok=True)
        shutil.copy2(library, os.path.join(package_dir, "libswiftgan.so"))
        if self.inplace:
            shutil.copy2(library, os.path.join(ROOT, "python", "swiftgan", "libswiftgan.so"))
        super().run()
