"""Runs the property tests (properties_python.py: the Python API; properties_c_abi.py: the C ABI through ctypes;
properties_files.py: every reader of untrusted files, under a memory limit) each in a child process, so that a crash is reported as a failure with the calls that led to it instead of ending
the test session. Each tries over a thousand random calls (the count is in the report)."""
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("module", ["properties_python.py", "properties_c_abi.py", "properties_files.py"])
def test_random_inputs_and_call_orders_never_crash_and_leave_no_half_updated_state(module):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-W",
                           "ignore::DeprecationWarning", os.path.join(HERE, module)],
                          capture_output=True, text=True, timeout=900, cwd=HERE)
    assert done.returncode == 0, f"{module} ended with {done.returncode}:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    tried = re.search(r"calls tried: (\d+) \((\d+) refused\)", done.stdout)
    assert tried and int(tried.group(1)) >= 1000, done.stdout[-2000:]
    print(f"{module}: {tried.group(0)}")
