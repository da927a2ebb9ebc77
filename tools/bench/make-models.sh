#!/usr/bin/env bash
# Writes the benchmark models of docs/performance.md (random weights, real sizes; not committed) and checks
# them with the reference ONNX checker: bench-dcgan-256 and bench-dcgan-512 (DCGAN-style generators,
# 256×256×3 and 512×512×3) and bench-unet-256 (a U-Net image-to-image model, 256×256×3).
# Usage: tools/bench/make-models.sh [OUTDIR]   (default tools/bench/models; run from anywhere)
# Serve them with: dotnet run --project src/GanInference.Server -- --Models:Path=tools/bench/models
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-tools/bench/models}
dotnet run -c Release --project tools/bench/BenchModels -- "$out"
/usr/bin/python3 tools/check-onnx.py "$out"/*/model.onnx
