"""Builds libswiftgan.so with SwiftPM (release) and the thin CPython extension against it.

`pip install .` runs this: no manual step. Needs the Swift toolchain (`swift` on PATH or
$SWIFT), Debian's libopenblas-dev and python3-dev.
"""
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def swift_executable():
    candidates = [os.environ.get("SWIFT"), shutil.which("swift"), "/opt/swift/usr/bin/swift"]
    for c in candidates:
        if c and os.path.exists(c):
            return c
    sys.exit("error: the Swift toolchain was not found: put `swift` on PATH or set SWIFT=/path/to/swift")


class BuildWithSwift(build_ext):
    """Builds the Swift product first, then links the extension to it with an $ORIGIN rpath."""

    def run(self):
        swift = swift_executable()
        cmd = [swift, "build", "-c", "release", "--product", "swiftgan"]
        print("swiftgan: " + " ".join(cmd), flush=True)
        subprocess.check_call(cmd, cwd=ROOT)
        bin_path = subprocess.check_output(cmd[:4] + ["--show-bin-path"], cwd=ROOT, text=True).strip()
        library = os.path.join(bin_path, "libswiftgan.so")
        for ext in self.extensions:
            ext.library_dirs.append(bin_path)
        package_dir = os.path.join(self.build_lib, "swiftgan")
        os.makedirs(package_dir, exist_ok=True)
        shutil.copy2(library, os.path.join(package_dir, "libswiftgan.so"))
        if self.inplace:
            shutil.copy2(library, os.path.join(ROOT, "python", "swiftgan", "libswiftgan.so"))
        super().run()


setup(
    ext_modules=[
        Extension(
            "swiftgan._native",
            sources=["python/swiftgan/_native.c"],
            depends=["Sources/SwiftGANC/swiftgan.h"],  # a changed ABI header rebuilds the extension
            include_dirs=["Sources/SwiftGANC"],
            libraries=["swiftgan"],
            extra_compile_args=["-O2", "-Wall"],
            extra_link_args=["-Wl,-rpath,$ORIGIN"],
        )
    ],
    cmdclass={"build_ext": BuildWithSwift},
)
