#!/usr/bin/env bash
# The CUDA build restores and builds (no GPU needed), and the CUDA libraries ONNX Runtime's CUDA provider links are
# the ones the Dockerfile's base image installs.
#
#  1. `dotnet build src/GanInference.Server -p:OnnxRuntimeGpu=true` with warnings as errors (output in artifacts/gpu/,
#     so the CPU build's bin/ and obj/ are untouched).
#  2. In the CPU and the CUDA restore alike, the native ONNX Runtime package and Microsoft.ML.OnnxRuntime.Managed
#     resolve to the same version.
#  3. `readelf -d` on the restored libonnxruntime_providers_cuda.so: the major version of each of libcudart.so.N,
#     libcublas.so.N and libcublasLt.so.N it needs equals the CUDA major of the Dockerfile's
#     `FROM nvidia/cuda:<major>.<minor>.<patch>-cudnn-runtime-ubuntu<release>` (a cuDNN image: the provider loads
#     cuDNN 9 at run time), and that Ubuntu release is the one of the .NET image the runtime is copied from; the
#     server's error messages (CudaRequirements.CudaMajor) state that same major.
#  4. Self-test: the same check on a copy of the Dockerfile one CUDA major lower must fail, naming both majors.
#
# Usage: tools/ci/checks/20-gpu-build.sh [--dockerfile PATH] [--skip-build]
#   GAN_GPU_CHECK_DOCKERFILE=PATH does the same as --dockerfile (to prove the mismatch branch on a copy).
#   --skip-build checks an existing artifacts/gpu restore without building (a few seconds; the build must have run).
# Idempotent; installs binutils (readelf) when missing. Exits non-zero with one line naming what differs.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

dockerfile=${GAN_GPU_CHECK_DOCKERFILE:-Dockerfile}
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dockerfile) dockerfile=$2; shift 2 ;;
    --skip-build) build=0; shift ;;
    *) echo "20-gpu-build: unknown argument '$1' (usage: [--dockerfile PATH] [--skip-build])" >&2; exit 2 ;;
  esac
done
fail() { echo "20-gpu-build: FAILED: $*" >&2; exit 1; }

if ! command -v readelf >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "readelf is missing: apt-get install binutils (as root)"
  echo "20-gpu-build: installing binutils (readelf)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq binutils >/dev/null
fi
[ -f "$dockerfile" ] || fail "no Dockerfile at '$dockerfile'"

start=$SECONDS
if [ "$build" = 1 ]; then
  # CPU restore of Core (quick; dotnet test restores it again anyway) so its versions can be compared too. The property
  # is explicit because MSBuild also reads OnnxRuntimeGpu from the environment (tools/gpu/check.sh exports it).
  dotnet restore src/GanInference.Core -p:OnnxRuntimeGpu=false -warnaserror --verbosity quiet \
    || fail "the CPU restore of src/GanInference.Core failed (see above)"
  log=$(mktemp)
  if ! dotnet build src/GanInference.Server -p:OnnxRuntimeGpu=true -warnaserror --verbosity quiet -nologo >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    fail "dotnet build src/GanInference.Server -p:OnnxRuntimeGpu=true did not build cleanly (warnings are errors; output above)"
  fi
  rm -f "$log"
  echo "20-gpu-build: GPU variant built into artifacts/gpu/ in $((SECONDS - start)) s, 0 warnings"
fi

# Steps 2 and 3: read both restores, find the provider library, compare with the Dockerfile (python3: the JSON).
check_dockerfile() { # path
/usr/bin/python3 - "$1" <<'PY'
import json, os, re, subprocess, sys

dockerfile = sys.argv[1]
def fail(message):
    print(f"20-gpu-build: FAILED: {message}", file=sys.stderr)
    sys.exit(1)

def resolved(assets_path, native_id):
    if not os.path.exists(assets_path):
        fail(f"{assets_path} is missing: run this check without --skip-build")
    assets = json.load(open(assets_path))
    versions = {}
    for key in assets["libraries"]:
        name, version = key.split("/", 1)
        versions[name] = version
    if native_id not in versions:
        fail(f"{assets_path}: {native_id} is not in the restore (packages: "
             + ", ".join(k for k in versions if k.startswith("Microsoft.ML.OnnxRuntime")) + ")")
    managed = versions.get("Microsoft.ML.OnnxRuntime.Managed")
    if managed != versions[native_id]:
        fail(f"{assets_path}: {native_id} {versions[native_id]} but Microsoft.ML.OnnxRuntime.Managed {managed}: "
             "native and managed ONNX Runtime must be the same version (Directory.Packages.props)")
    folder = next(iter(assets["packageFolders"]))
    library = assets["libraries"][f"{native_id}/{versions[native_id]}"]["path"]
    return versions[native_id], os.path.join(folder, library)

cpu_version, _ = resolved("src/GanInference.Core/obj/project.assets.json", "Microsoft.ML.OnnxRuntime")
gpu_version, gpu_package = resolved("artifacts/gpu/obj/GanInference.Core/project.assets.json", "Microsoft.ML.OnnxRuntime.Gpu.Linux")
provider = os.path.join(gpu_package, "runtimes/linux-x64/native/libonnxruntime_providers_cuda.so")
if not os.path.exists(provider):
    fail(f"{provider} is missing from the restored Microsoft.ML.OnnxRuntime.Gpu.Linux {gpu_version}")

dynamic = subprocess.run(["readelf", "-d", provider], check=True, capture_output=True, text=True).stdout
needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
linked = {}
for library in ("libcudart", "libcublas", "libcublasLt"):
    match = next((n for n in needed if re.fullmatch(re.escape(library) + r"\.so\.(\d+)", n)), None)
    if match is None:
        fail(f"{provider} needs no {library}.so.N (it needs: {', '.join(needed)}); the check no longer fits the package")
    linked[match] = int(match.rsplit(".", 1)[1])

# FROM nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04 [AS name]; the .NET image the runtime comes from: ...:10.0-noble.
text = open(dockerfile).read()
cuda = re.search(r"^\s*FROM\s+(?:--platform=\S+\s+)?(?:docker\.io/)?nvidia/cuda:(\d+)\.(\d+)(?:\.(\d+))?-(\S*?)-?ubuntu(\d+\.\d+)\b",
                 text, re.MULTILINE | re.IGNORECASE)
if cuda is None:
    fail(f"{dockerfile}: no 'FROM nvidia/cuda:<major>.<minor>.<patch>-cudnn-runtime-ubuntu<release>' line")
image_major = int(cuda.group(1))
tag = cuda.group(0).split(":", 1)[1]
wrong = {name: major for name, major in linked.items() if major != image_major}
if wrong:
    fail(f"ONNX Runtime {gpu_version}'s CUDA provider links CUDA {sorted(set(linked.values()))[0]} "
         f"({', '.join(sorted(linked))}) but {dockerfile} installs CUDA {image_major} (nvidia/cuda:{tag}): "
         f"change the Dockerfile's base image to an nvidia/cuda:{sorted(set(linked.values()))[0]}.x cuDNN runtime image, "
         "or the ONNX Runtime version in Directory.Packages.props")
if "cudnn" not in cuda.group(4).lower():
    fail(f"{dockerfile}: nvidia/cuda:{tag} has no cuDNN; the CUDA provider loads cuDNN 9 at run time (use a -cudnn-runtime- tag)")

# The server's own messages (CudaRequirements.CudaMajor) say the same major.
requirements = open("src/GanInference.Core/Runtime/CudaRequirements.cs").read()
stated = re.search(r"const int CudaMajor = (\d+);", requirements)
if stated is None or int(stated.group(1)) != image_major:
    fail(f"src/GanInference.Core/Runtime/CudaRequirements.cs states CUDA {stated.group(1) if stated else '?'} "
         f"but the provider links CUDA {image_major}: update CudaMajor (and its messages) with the package")

releases = {"noble": "24.04", "jammy": "22.04", "focal": "20.04"}
dotnet = re.search(r"mcr\.microsoft\.com/dotnet/(?:aspnet|runtime|runtime-deps):[\w.]+-(\w+)", text)
if dotnet and releases.get(dotnet.group(1)) not in (None, cuda.group(5)):
    fail(f"{dockerfile}: the ASP.NET runtime comes from Ubuntu {releases[dotnet.group(1)]} ({dotnet.group(1)}) "
         f"but the CUDA base is Ubuntu {cuda.group(5)}: use the same release for both")

others = ", ".join(n for n in needed if n.startswith(("libcurand", "libcufft", "libnvrtc")))
print(f"20-gpu-build: OK: CPU build ONNX Runtime {cpu_version} (managed {cpu_version}); CUDA build "
      f"Microsoft.ML.OnnxRuntime.Gpu.Linux {gpu_version} (managed {gpu_version}) links {', '.join(sorted(linked))}"
      f"{' and ' + others if others else ''}; {dockerfile} installs CUDA {image_major} with cuDNN (nvidia/cuda:{tag})")
PY
}
check_dockerfile "$dockerfile" || exit 1

# The mismatch branch still fails: the same Dockerfile with the CUDA major one lower must be refused, naming both.
copy=$(mktemp)
/usr/bin/python3 -c 'import re, sys; text = open(sys.argv[1]).read(); print(re.sub(r"(?m)^(\s*FROM\s+(?:--platform=\S+\s+)?(?:docker\.io/)?nvidia/cuda:)(\d+)", lambda m: m.group(1) + str(int(m.group(2)) - 1), text), end="")' "$dockerfile" >"$copy"
if mismatch=$(check_dockerfile "$copy" 2>&1); then
  rm -f "$copy"; fail "self-test: a Dockerfile one CUDA major lower passed the check"
fi
rm -f "$copy"
case "$mismatch" in
  *"links CUDA"*"installs CUDA"*) echo "20-gpu-build: self-test OK: a copy one CUDA major lower is refused ($(echo "$mismatch" | grep -o 'installs CUDA [0-9]*'))" ;;
  *) fail "self-test: a Dockerfile one CUDA major lower failed for another reason: $mismatch" ;;
esac
echo "20-gpu-build: done in $((SECONDS - start)) s"
