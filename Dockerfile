# syntax=docker/dockerfile:1
# GPU image of the GanInference server: ONNX Runtime's CUDA build (Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0), which
# links CUDA 13 (libcudart.so.13, libcublas.so.13, libcublasLt.so.13, libcurand.so.10) and loads cuDNN 9 at run time.
# The host needs an NVIDIA driver >= 580 (the CUDA 13.x minimum) and the NVIDIA Container Toolkit.
#   docker build -t gan-inference .
#   docker run --gpus all -p 5000:5000 -p 8000:8000 gan-inference
# gRPC (h2c) on :5000, Prometheus text and the HTTP/1.1 surfaces on http://:8000 (/metrics). Needs models/ in the build context.
# tools/ci/checks/20-gpu-build.sh checks on every CI run that the CUDA major of the runtime stage's base image is the
# one the restored provider library links, and that both runtime stages are the same Ubuntu release (docs/gpu.md).
# Not built here: the development machine and CI have no Docker engine.

# ---- stage 1, build: the .NET 10 SDK (Ubuntu 24.04 "noble") restores and publishes the server's CUDA variant ----
# -p:OnnxRuntimeGpu=true swaps Microsoft.ML.OnnxRuntime for Microsoft.ML.OnnxRuntime.Gpu.Linux (Directory.Packages.props)
# and defines ONNXRUNTIME_GPU; restore and publish get the same properties, so publish can skip restoring.
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props ./
COPY protos/ protos/
COPY src/GanInference.Protos/ src/GanInference.Protos/
COPY src/GanInference.Core/ src/GanInference.Core/
COPY src/GanInference.Server/ src/GanInference.Server/
RUN dotnet restore src/GanInference.Server/GanInference.Server.csproj -p:OnnxRuntimeGpu=true
RUN dotnet publish src/GanInference.Server/GanInference.Server.csproj \
      -c Release -p:OnnxRuntimeGpu=true --no-restore -o /app

# ---- stage 2, aspnet: Microsoft's ASP.NET Core 10 runtime image of the same Ubuntu release, only as a source of /usr/share/dotnet ----
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble AS aspnet

# ---- stage 3, runtime: CUDA 13.0 + cuDNN 9 on Ubuntu 24.04 (NVIDIA's runtime image), plus the ASP.NET Core runtime and the app ----
# The -cudnn-runtime- image carries libcudart, libcublas(Lt), libcurand and cuDNN 9 (libcudnn9-cuda-13); the driver's
# libcuda.so.1 comes from the host through the NVIDIA Container Toolkit (docker run --gpus all).
FROM nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04 AS runtime
COPY --from=aspnet /usr/share/dotnet /usr/share/dotnet
# Globalization is invariant (Directory.Build.props), so no ICU; Kestrel needs OpenSSL and zlib.
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
 && apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3t64 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin gan
WORKDIR /app
COPY --from=build /app ./
# Models are served from ./models relative to the working directory (Models:Path).
COPY models/ ./models/
# Inference:Cuda:* (docs/gpu.md) may be set the same way, e.g. -e Inference__Cuda__GpuMemLimitBytes=4294967296.
ENV ASPNETCORE_URLS=http://+:5000 \
    Http__Urls=http://+:8000 \
    Models__Path=/app/models \
    Inference__ExecutionProvider=cuda \
    Inference__Cuda__DeviceId=0 \
    Inference__AllowCpuFallback=false \
    DOTNET_gcServer=1
EXPOSE 5000 8000
USER gan
ENTRYPOINT ["dotnet", "GanInference.Server.dll"]
