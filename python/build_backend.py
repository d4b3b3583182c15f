"""The PEP 517 build backend of SwiftGAN: setuptools, with the Swift library built first.

`pip install .` loads this module (pyproject.toml: build-backend, backend-path). Its `BuildWithSwift`
command runs `swift build -c release --product swiftgan`, puts libswiftgan.so into the package and links
the CPython extension declared in pyproject.toml against it with an $ORIGIN rpath. Needs the Swift
toolchain (`swift` on PATH, or $SWIFT), Debian's libdnnl-dev, libopenblas-openmp-dev and python3-dev.
"""
import os
import shutil
import subprocess
import sys

from setuptools.build_meta import *  # noqa: F401,F403  (the PEP 517 hooks)
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def swift_executable():
    for candidate in (os.environ.get("SWIFT"), shutil.which("swift"), "/opt/swift/usr/bin/swift"):
        if candidate and os.path.exists(candidate):
            return candidate
    sys.exit("error: the Swift toolchain was not found: put `swift` on PATH or set SWIFT=/path/to/swift")


class BuildWithSwift(build_ext):
    """Builds the Swift product first, then links the extension to it."""

    def run(self):
        command = [swift_executable(), "build", "-c", "release", "--product", "swiftgan"]
        print("swiftgan: " + " ".join(command), flush=True)
        subprocess.check_call(command, cwd=ROOT)
        bin_path = subprocess.check_output(command[:4] + ["--show-bin-path"], cwd=ROOT, text=True).strip()
        library = os.path.join(bin_path, "libswiftgan.so")
        for extension in self.extensions:
            extension.library_dirs.append(bin_path)
        package_dir = os.path.join(self.build_lib, "swiftgan")
        os.makedirs(package_dir, exist_ok=True)
        shutil.copy2(library, os.path.join(package_dir, "libswiftgan.so"))
        if self.inplace:
            shutil.copy2(library, os.path.join(ROOT, "python", "swiftgan", "libswiftgan.so"))
        super().run()
