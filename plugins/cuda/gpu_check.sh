#!/usr/bin/env bash
# The one check of the CUDA backend on a GPU machine (about 8 minutes on an
# H100/H200 with 16 cores). Run from the repository root:
#
#   bash plugins/cuda/gpu_check.sh [WHEELS]
#
# WHEELS (default build/gpu_wheels) holds py3-none wheels the machine may
# lack (scipy-openblas32; fetch them where pip works with
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux_2_28_x86_64 -d build/gpu_wheels scipy-openblas32==<pin>
# ); they install with --no-index. Everything it prints also goes to
# $OUT/gpu_check.log ($OUT defaults to build/gpu_out), with the test report
# as $OUT/conformance.xml.
#
# Steps: build and install devrt and devrt-cuda into this Python without
# isolation or network; show the library's RUNPATH resolution and `devrt
# backends`; the conformance suite on cuda under DEVRT_REQUIRE_CUDA=1 (a
# skip is a failure) and tests/plugins/test_cuda.py; the lecture's programs
# (`devrt demo`: eager, graph and Keras on every device); bench/bench_cuda.py
# (SGEMM n=4096 against CuPy and PyTorch, two-layer and CNN steps and the
# cuDNN NHWC convolution against PyTorch CUDA); `devrt bench`, whose chart
# lands in $OUT/devrt_bench.png.
set -uo pipefail
cd "$(dirname "$0")/../.."
WHEELS=${1:-build/gpu_wheels}
OUT=${OUT:-build/gpu_out}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
export PYTHONUNBUFFERED=1 CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
status=0
step() { echo; echo "=== $* ($(date +%T))"; }
fail() { echo "FAILED: $*"; status=1; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || fail "nvidia-smi"
nvcc --version | tail -1
$PY -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, torch.cuda.is_available())"
$PY -m pip list 2>/dev/null | grep -i -E "^(nvidia-(cuda-runtime|cublas|cudnn-cu13)|cupy|scikit-build-core|pybind11|pluggy|h5py) "

step "missing wheels from $WHEELS"
for mod in scipy_openblas32 pluggy h5py; do
  if ! $PY -c "import $mod" 2>/dev/null; then
    name=${mod//_/-}
    $PY -m pip install -q --no-index --no-deps "$WHEELS"/${mod}-*.whl || fail "installing $name"
  fi
done

step "build and install devrt"
$PY -m pip install -q --no-build-isolation --no-deps . || { fail "devrt build"; exit 1; }
step "build and install devrt-cuda"
$PY -m pip install -q --no-build-isolation --no-deps ./plugins/cuda || { fail "devrt-cuda build"; exit 1; }

step "libraries through RUNPATH (no LD_LIBRARY_PATH)"
LIB=$($PY -c "import devrt_cuda; print(devrt_cuda.library_path())")
readelf -d "$LIB" | grep -E "NEEDED|RUNPATH"
env -u LD_LIBRARY_PATH ldd "$LIB" | grep -E "cudart|cublas|cudnn|devrt_core"
env -u LD_LIBRARY_PATH ldd "$LIB" | grep -v devrt_core | grep -q "not found" && fail "a library is not found"
$PY -m devrt backends

step "conformance suite on cuda (DEVRT_REQUIRE_CUDA=1)"
DEVRT_REQUIRE_CUDA=1 timeout 300 $PY -m pytest --pyargs devrt.testing --devrt-device=cuda \
  -q -p no:cacheprovider --timeout=120 -rfE --junitxml="$OUT/conformance.xml" \
  || fail "conformance suite on cuda"

step "tests/plugins/test_cuda.py (DEVRT_REQUIRE_CUDA=1)"
DEVRT_REQUIRE_CUDA=1 timeout 120 $PY -m pytest tests/plugins/test_cuda.py -q -p no:cacheprovider \
  --devrt-no-coverage -rfE || fail "test_cuda.py"

step "the lecture's programs on every device (devrt demo)"
timeout 150 $PY -m devrt demo --steps 200 || fail "devrt demo"

step "benchmarks (bench/bench_cuda.py)"
timeout 150 $PY bench/bench_cuda.py || fail "bench_cuda.py"

step "devrt bench: CPU against GPU, table and chart"
timeout 90 $PY -m devrt bench --sizes 256 1024 4096 --rounds 3 --out "$OUT/devrt_bench.png" \
  || fail "devrt bench"

step "done: $([ $status -eq 0 ] && echo all passed || echo FAILURES above)"
exit $status
