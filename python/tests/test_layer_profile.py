"""benchmarks/layer_profile.py: oneDNN's execution log read the same from its 2.x (SwiftGAN's) and 3.x (PyTorch's)
formats, convolution FLOPs counted as bench_vs_torch.py counts them, and one SwiftGAN step profiled end to end:
the work per layer the README's step count describes, on oneDNN's vector kernels."""
import json
import os
import subprocess
import sys

import pytest

BENCHMARKS = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks")
sys.path.insert(0, BENCHMARKS)

import bench_vs_torch as bench  # noqa: E402
import layer_profile  # noqa: E402

# Lines as oneDNN 2.6 (Debian's, SwiftGAN's) and 3.x (PyTorch 2.15's) print them.
LOG_2X = """\
onednn_verbose,info,oneDNN v2.6.3 (commit N/A)
onednn_verbose,create:cache_miss,cpu,convolution,jit:avx2,backward_data,src_f32::blocked:aBcd8b:f0,,alg:convolution_direct,mb64_ic64oc128_ih16oh8kh4sh2dh0ph1_iw16ow8kw4sw2dw0pw1,0.02
onednn_verbose,exec,cpu,convolution,jit:avx2,backward_data,src_f32::blocked:aBcd8b:f0 wei_f32::blocked:ABcd8a8b:f0 bia_undef::undef::f0 dst_f32::blocked:aBcd8b:f0,,alg:convolution_direct,mb64_ic64oc128_ih16oh8kh4sh2dh0ph1_iw16ow8kw4sw2dw0pw1,6.25
onednn_verbose,exec,cpu,reorder,jit:blk,undef,src_f32::blocked:aBcd8b:f0 dst_f32::blocked:abcd:f0,,,64x64x16x16,0.5
"""
LOG_3X = """\
onednn_verbose,v1,primitive,exec,cpu,deconvolution,brg_deconv:avx2+brgconv_strided:avx2,forward_training,src:f32::blocked:acdb::f0 wei:f32::blocked:Acdb24a::f0 bia:f32::blocked:a::f0_mask2 dst:f32::blocked:acdb::f0,attr-scratchpad:user,alg:deconvolution_direct,mb64_ic256oc128_ih4oh8kh4sh2dh0ph1_iw4ow8kw4sw2dw0pw1,6.75
onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32::blocked:abcd::f0 dst:f32:p:blocked:aBcd8b::f0,attr-scratchpad:user,,64x1x32x32,1.25
"""


def test_both_log_formats_are_read_and_other_lines_skipped():
    assert layer_profile.parse_log(LOG_2X) == [
        ("convolution", "backward data", "jit:avx2", "mb64_ic64oc128_ih16oh8kh4sh2dh0ph1_iw16ow8kw4sw2dw0pw1", "", 6.25),
        ("reorder", "", "jit:blk", "64x64x16x16", "aBcd8b→abcd", 0.5)]
    assert layer_profile.parse_log(LOG_3X) == [
        ("deconvolution", "forward", "brg_deconv:avx2+brgconv_strided:avx2",
         "mb64_ic256oc128_ih4oh8kh4sh2dh0ph1_iw4ow8kw4sw2dw0pw1", "", 6.75),
        ("reorder", "", "jit:uni", "64x1x32x32", "abcd→aBcd8b", 1.25)]


def test_aggregate_counts_calls_and_time_per_step():
    calls = layer_profile.parse_log(LOG_2X * 4)
    rows = {(r["kind"], r["shape"]): r for r in layer_profile.aggregate(calls, steps=2)}
    assert rows["reorder", "64x64x16x16"]["calls"] == 2 and rows["reorder", "64x64x16x16"]["ms"] == pytest.approx(1.0)
    assert rows["convolution", "mb64_ic64oc128_ih16oh8kh4sh2dh0ph1_iw16ow8kw4sw2dw0pw1"]["ms"] == pytest.approx(12.5)


@pytest.mark.parametrize("size,channels,out_channels,kernel,stride,pad,batch,groups", [
    (64, 3, 64, 4, 2, 1, 64, 1), (16, 128, 256, 4, 2, 1, 16, 1), (4, 512, 1, 4, 1, 0, 64, 1),
    (32, 128, 128, 3, 1, 1, 64, 1), (9, 6, 12, 3, 2, 0, 5, 3)])
def test_convolution_flops_match_the_benchmarks_count(size, channels, out_channels, kernel, stride, pad, batch, groups):
    out = (size + 2 * pad - kernel) // stride + 1
    shape = (f"mb{batch}_" + (f"g{groups}" if groups > 1 else "")
             + f"ic{channels}oc{out_channels}_ih{size}oh{out}kh{kernel}sh{stride}dh0ph{pad}"
             f"_iw{size}ow{out}kw{kernel}sw{stride}dw0pw{pad}")
    want = 2 * bench.conv_macs(size, channels, out_channels, kernel, out, batch) // groups
    assert layer_profile.conv_flops("convolution", shape) == want
    # The transposed convolution from `out` to `size` pixels does the same work, counted per input pixel.
    transposed = (f"mb{batch}_" + (f"g{groups}" if groups > 1 else "")
                  + f"ic{out_channels}oc{channels}_ih{out}oh{size}kh{kernel}sh{stride}dh0ph{pad}"
                  f"_iw{out}ow{size}kw{kernel}sw{stride}dw0pw{pad}")
    assert layer_profile.conv_flops("deconvolution", transposed) == want
    assert layer_profile.conv_flops("reorder", "64x3x64x64") is None


def run_profile(*args):
    return subprocess.run([sys.executable, os.path.join(BENCHMARKS, "layer_profile.py"), *args],
                          capture_output=True, text=True, timeout=600)


def test_a_swiftgan_step_does_the_counted_work_on_vector_kernels(tmp_path):
    done = run_profile("--only", "DCGAN-32x1 RaSGAN b64", "--engines", "swiftgan", "--steps", "2", "--warmup", "1",
                       "--threads", "1", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| convolution forward |" in done.stdout and "| step (wall, logging on) |" in done.stdout
    with open(tmp_path / "layers.json") as f:
        result = json.load(f)["rows"]["DCGAN-32x1 RaSGAN b64"]["swiftgan"]

    def passes(layer):
        """Calls per pass of the layer of this shape (past the batch). A forward or backward-data pass whose blocked
        copies exceed 4 MiB runs on slices of the batch (the middle layer's, on 2 slices of 32 here): a pass counts as
        the samples it did over the batch's 64."""
        calls = {}
        for p in result["primitives"]:
            batch, _, rest = p["shape"].partition("_")
            if batch.startswith("mb") and rest == layer:
                calls[p["pass_"]] = calls.get(p["pass_"], 0) + p["calls"] * int(batch[2:]) / 64
        return calls

    middle = passes("ic64oc128_ih16oh8kh4sh2dh0ph1_iw16ow8kw4sw2dw0pw1")
    # D's 64→128 layer and G's transposed 128→64 layer share this shape. Forward: D on the real and the fake
    # batch in each of the two steps, and G's input gradient (G step). Backward data: G's forward in both
    # steps, D's input gradients for both batches in the D step and for the fake one in the G step. Backward
    # weights: D's for both batches, G's once; never D's in the G step.
    assert middle == {"forward": 5, "backward data": 5, "backward weights": 3}
    # D's first layer (1→64) and G's last (64→1): backward data is G's forward in both steps and D's input
    # gradient in the G step only (the D step needs none through its first layer); backward weights as above.
    first = passes("ic1oc64_ih32oh16kh4sh2dh0ph1_iw32ow16kw4sw2dw0pw1")
    assert first["backward data"] == 3 and first["backward weights"] == 3, first
    assert all(not p["impl"].startswith("ref") for p in result["primitives"]), result["primitives"]
    assert result["wall_ms"] > sum(p["ms"] for p in result["primitives"]) > 0


def test_an_unknown_configuration_is_refused_with_the_known_ones():
    done = run_profile("--only", "no such row")
    assert done.returncode == 2
    assert "no configuration of bench_vs_torch.py matches ['no such row']" in done.stderr
    assert "DCGAN-64x3 RaSGAN b64" in done.stderr


def test_a_paired_worker_takes_one_timed_step_per_line_and_reports_the_same_times():
    # bench_vs_torch.py --paired: the driver sends `step` lines to each engine's worker in turn; the worker answers
    # each with that step's seconds and, at `quit`, its JSON result (the same times, its peak RSS).
    cfg = {**bench.COMMON, **bench.DCGAN_ROWS[0], "ngf": 8, "ndf": 8, "batch": 4, "resolved": {}}
    spec = dict(kind="paired", cfg=cfg, warmup=1, threads=1, engine="swiftgan")
    worker = subprocess.Popen([sys.executable, os.path.join(BENCHMARKS, "bench_vs_torch.py"), "--worker",
                               json.dumps(spec)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "ready"
        times = []
        for _ in range(3):
            worker.stdin.write("step\n")
            worker.stdin.flush()
            times.append(float(worker.stdout.readline()))
        out, _ = worker.communicate("quit\n", timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["times"] == times and all(t > 0 for t in times), (result, times)
    assert result["rss_mb"] > 0 and result["threads"] == 1
