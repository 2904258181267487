#!/usr/bin/env bash
# The GPU checks in one command, for the lent GPU machine (one H100, 16 cores, CUDA 13, Python 3.12
# with torch, scipy, sympy, jinja2, cython...; no network). From the repository root, with the
# carried wheels in .whl/ (brian2 2.8.0, brian2cuda 1.0a7, numpy 2.3.5, neo, nixio, elephant,
# quantities, tensorly):
#
#     bash benchmarks/gpu_session.sh OUTDIR          (device tool: command "bash benchmarks/gpu_session.sh $OUT",
#                                                     carry [".whl"])
#
# 1. installs the wheels and this package into SITE (PYTHONPATH), runs `neuromod doctor`;
# 2. runs the checks below in order of priority, each under `timeout`, its output in OUTDIR/NAME.log
#    (and on stdout), its JSON in OUTDIR/NAME.json (a run record, kind "benchmark"); a step that
#    fails or times out does not stop the others. OUTDIR/steps.txt lists every step's exit code and
#    seconds; a summary ends the output.
#
# The whole session keeps within SESSION_BUDGET_S (default 540 s = 9 min, install included): a step
# starts only when its estimate fits in the time left, and its timeout is cut to the time left.
#
# Estimates for that machine (measured there: nvcc 18-26 s per network; cpp_standalone with 16
# OpenMP threads 124 s per 10 s of biological time at 1e7 synapses, 20 s at 1e6; cuda 14.1 s and
# 9.8 s; a cpp build of a small network a few seconds with make -j16):
#   install + doctor                         ~25 s
#   devices_agree (AdEx 540 ms + Leabra unit, cpp and cuda: 2 cpp builds, 2 nvcc builds)   ~75 s
#   stdp_network_1e7 (2 s biological, so that the cpp loop takes ~25-35 s, not 124 s+;
#     cpp 16 threads + cuda, 1 build each, 1e7 synapses created and read back)             ~90 s
#   stdp_network_1e6 (5 s biological: cpp ~12 s, cuda ~5 s loop, 1 build each)           ~55 s
#   protocol_conditions_cuda (K 64; 5 nvcc builds, 4 extra binary runs of up to 5 s)      ~160 s
#   twin_tests (the rate twin's GPU tests: captured paths against the reference loop)      ~60 s
#   rate_twin_cuda (~16 torch subprocesses: ours = fused-graph against the naive loop, the
#     uncaptured fused path, the captured naive loop, auto, ours with torch.compile-d vector
#     work, the public reference cell with --peer; T 200, T 1000 and B 128 N 512 T 500 (ours
#     and the uncaptured fused path); 2 rules)                                            ~300 s
#   training_device (associative recall: steps per second on the 16 cores and on the GPU)   ~90 s
#   protocol_conditions_cpp (K 64; the same 5 builds, with g++)                           ~35 s
#   total                                                                                 ~540 s
# These are guesses from those figures; when the early steps take longer, the last ones are
# skipped (steps.txt says so), which is why they are ordered by priority.
#
# Environment: PYTHON (default python3), SITE (default build/gpu-site, relative to the repository
# root), SESSION_BUDGET_S, WHEELS (folder of the carried wheels, default .whl), ONLY (comma-separated
# step names: run only these, e.g. ONLY=twin_tests,rate_twin_cuda,training_device for the rate twin,
# which needs only the wheels of brian2, numpy and jsonschema), PEER (folder of the public reference
# cell's code for rate_twin_cuda, default .carry/peer where it exists);
# NEUROMOD_SESSION_QUICK=1 runs tiny sizes with the current Python and no install (a dry run on a
# machine without a GPU: the cuda steps then record that cuda_standalone is unavailable, or fail).

OUT=${1:?usage: bash benchmarks/gpu_session.sh OUTDIR}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
PY=${PYTHON:-python3}
[[ $PY == */* ]] && PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")  # the doctor runs elsewhere
SITE=${SITE:-build/gpu-site}
[[ $SITE == /* ]] || SITE=$ROOT/$SITE  # PYTHONPATH must hold it absolute: the checks below run elsewhere
BUDGET=${SESSION_BUDGET_S:-540}
QUICK=${NEUROMOD_SESSION_QUICK:-0}
export NEUROMOD_MAKE_JOBS=${NEUROMOD_MAKE_JOBS:-16}
export PYTHONUNBUFFERED=1
START=$SECONDS

stamp() { echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) (+$((SECONDS - START)) s) $*" | tee -a "$OUT/session.log"; }

# step NAME ESTIMATE_S TIMEOUT_S COMMAND...: run COMMAND under timeout, output to OUTDIR/NAME.log
step() {
    local name=$1 estimate=$2 limit=$3
    shift 3
    if [[ -n ${ONLY:-} && ",$ONLY," != *",$name,"* ]]; then
        return
    fi
    local left=$((BUDGET - (SECONDS - START)))
    if ((left < estimate)); then
        stamp "$name: skipped ($left s left, estimate $estimate s)"
        echo "$name skipped left=${left}s estimate=${estimate}s" >>"$OUT/steps.txt"
        return
    fi
    ((limit > left)) && limit=$left
    stamp "$name: start (estimate $estimate s, timeout $limit s): $*"
    local began=$SECONDS
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    stamp "$name: exit $rc after $((SECONDS - began)) s"
    echo "$name rc=$rc seconds=$((SECONDS - began)) estimate=${estimate}s timeout=${limit}s" >>"$OUT/steps.txt"
}

# sizes: full on the GPU machine, tiny for a dry run
if [[ $QUICK == 1 ]]; then
    AGREE=(--quick)
    STDP_LARGE=(--quick --synapses 1e5 --duration 0.2)  # one thread: OpenMP on a busy 2-core machine spins
    STDP_SMALL=(--quick --synapses 1e4 --duration 0.2)
    CONDITIONS=(--quick --k 2 --repeats 1 --binary-repeats 1 --baseline-builds 1)
    TWIN=(--quick)
    TRAINING=(--quick)
else
    AGREE=()
    STDP_LARGE=(--synapses 1e7 --duration 2 --threads 16)
    STDP_SMALL=(--synapses 1e6 --duration 5 --threads 16)
    CONDITIONS=(--repeats 1 --binary-repeats 2 --baseline-builds 2)
    TWIN=(--timeout 150 --compiled)
    TRAINING=()
fi
PEER=${PEER:-.carry/peer}
[[ $PEER == /* ]] || PEER=$ROOT/$PEER
[[ -d $PEER ]] && TWIN+=(--peer "$PEER")

stamp "session start in $ROOT, output $OUT, budget $BUDGET s"
if [[ $QUICK != 1 ]]; then
    stamp "install: wheels and neuromod into $SITE (pip output in install.log)"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "${WHEELS:-.whl}"/*.whl \
        >>"$OUT/install.log" 2>&1 || stamp "install: pip could not install the wheels (see install.log)"
    export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
    "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --target "$SITE" . >>"$OUT/install.log" 2>&1
    if [[ ! -f $SITE/neuromod/protocols/__init__.py ]]; then
        # pip could not build it (no setuptools there): pyproject's package-dir layout, copied by hand
        stamp "install: pip could not install neuromod, copying the package folders instead"
        rm -rf "$SITE/neuromod" && cp -r neuromod "$SITE/neuromod"
        for sub in models protocols analysis; do cp -r "$sub" "$SITE/neuromod/$sub"; done
    fi
fi
# from an empty folder: `python -m` puts the working folder first on sys.path, and ./neuromod lacks
# the subpackages that pyproject maps in from other folders (protocols, models, analysis)
ELSEWHERE=$(mktemp -d)
trap 'rm -rf "$ELSEWHERE"' EXIT
(cd "$ELSEWHERE" && "$PY" -c "import sys, brian2, numpy, neuromod.protocols; print('python', sys.version.split()[0], \
'brian2', brian2.__version__, 'numpy', numpy.__version__, 'neuromod from', neuromod.__file__)") 2>&1 | tee -a "$OUT/install.log"
[[ -z ${ONLY:-} ]] && (cd "$ELSEWHERE" && timeout 120 "$PY" -m neuromod.cli doctor) 2>&1 | tee "$OUT/doctor.log"
nvidia-smi >"$OUT/nvidia_smi.log" 2>&1
CUDA_MISSING=$(cd "$ELSEWHERE" && "$PY" -c "from neuromod.device import device_unavailable; print(device_unavailable('cuda_standalone') or '')" 2>&1 | tail -n 1)
[[ -n $CUDA_MISSING ]] && stamp "cuda_standalone cannot run here: $CUDA_MISSING"

# 1. cpp_standalone and cuda_standalone give the same spikes (deterministic networks)
step devices_agree 75 150 "$PY" benchmarks/devices_agree.py "${AGREE[@]}" --out "$OUT/devices_agree.json"
# 2. Song-Abbott STDP network at 1e7 synapses: cuda vs cpp with 16 threads (2 s biological, see above)
step stdp_network_1e7 90 180 "$PY" benchmarks/stdp_network.py "${STDP_LARGE[@]}" --out "$OUT/stdp_network_1e7.json"
# 3. the same at 1e6 synapses (the size where gpu.md found the GPU 1.8-2x faster)
step stdp_network_1e6 55 120 "$PY" benchmarks/stdp_network.py "${STDP_SMALL[@]}" --out "$OUT/stdp_network_1e6.json"
# 4. K = 64 stdp-window conditions in one network vs one condition vs one by one, on the GPU
# (nothing to compare without a GPU; the other benchmarks record that cuda_standalone was unavailable)
if [[ -z $CUDA_MISSING ]]; then
    step protocol_conditions_cuda 160 210 "$PY" benchmarks/protocol_conditions.py --device cuda_standalone "${CONDITIONS[@]}" \
        --out "$OUT/protocol_conditions_cuda.json"
else
    echo "protocol_conditions_cuda skipped: $CUDA_MISSING" >>"$OUT/steps.txt"
fi
# 5. the rate twin's GPU tests, then its training step on the GPU (ours: the fused sequence in CUDA
# graphs, against the naive per-step loop, the public reference cell and the other paths)
# (pytest from the empty folder too, for the reason above; the tests' own folder goes on sys.path)
step twin_tests 60 120 bash -c "cd '$ELSEWHERE' && '$PY' -m pytest --rootdir '$ROOT' -c '$ROOT/pyproject.toml' -q \
    -p no:cacheprovider -m 'gpu and not slow' '$ROOT/tests/test_twin_graph.py' '$ROOT/tests/test_gpu.py'"
step rate_twin_cuda 300 400 "$PY" benchmarks/rate_twin.py --device cuda "${TWIN[@]}" --out "$OUT/rate_twin_cuda.json"
step training_device 90 150 "$PY" benchmarks/training_device.py --devices cpu,cuda "${TRAINING[@]}" \
    --out "$OUT/training_device.json"
# 6. the K = 64 benchmark on cpp_standalone, same machine, for comparison with 4.
step protocol_conditions_cpp 35 90 "$PY" benchmarks/protocol_conditions.py --device cpp_standalone "${CONDITIONS[@]}" \
    --out "$OUT/protocol_conditions_cpp.json"

stamp "summary"
cat "$OUT/steps.txt"
"$PY" - "$OUT" <<'EOF' 2>&1 | tee "$OUT/summary.txt"
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
def load(name):
    try:
        return json.loads((out / f"{name}.json").read_text())
    except (OSError, ValueError) as exc:
        print(f"{name}: no result ({type(exc).__name__})")
        return None

if (r := load("devices_agree")) is not None:
    d = r["details"]
    print(f"devices_agree: agree {r['metrics']['agree']}, unavailable {d['unavailable']}, errors {d['errors']}")
    for c in r["conditions"]:
        if not c["reference"]:
            print(f"  {c['network']} {c['device']}: same counts {c['same_spike_counts']}, "
                  f"max |dt| {c['max_abs_spike_time_difference_ms']} ms, first difference {c['first_difference_ms']} ms")
for size in ("1e7", "1e6"):
    if (r := load(f"stdp_network_{size}")) is not None:
        runs = {c["device"]: (c["n_output_spikes"], round(c["mean_weight_over_gmax"], 4), c["loop_s"], c["compile_s"])
                for c in r["conditions"]}
        print(f"stdp_network {size}: speedup cuda/cpp {r['metrics']['speedup_cuda_over_cpp']}, agree {r['metrics']['agree']}, "
              f"(spikes, mean w, loop s, compile s) {runs}, errors {r['details']['errors']}")
for device in ("cuda", "cpp"):
    if (r := load(f"protocol_conditions_{device}")) is not None:
        print(f"protocol_conditions {device}: run ratio {r['metrics']['run_ratio']:.2f}, build ratio {r['metrics']['build_ratio']:.1f}")
if (r := load("rate_twin_cuda")) is not None:
    keys = ("speedup", "speedup_over_reference_cell", "fused_over_ours", "naive_graph_over_ours", "auto_over_naive",
            "memory_ratio", "time_per_step_ms", "bandwidth_fraction_of_peak")
    print("rate_twin cuda:", {rule: {k: e.get(k) for k in keys} for rule, e in r["details"]["rules"].items()})
    print("rate_twin cuda metrics:", r["metrics"])
if (r := load("training_device")) is not None:
    print("training_device:", r["metrics"])
EOF
stamp "session end"
