# syntax=docker/dockerfile:1
# GPU image of the GanInference server: ONNX Runtime's CUDA build on CUDA 12 + cuDNN 9.
#   docker build -t gan-inference .
#   docker run --gpus all -p 5000:5000 -p 9464:9464 gan-inference
# gRPC (h2c) on :5000, Prometheus text on http://:9464/metrics. Needs models/ in the build context.

# ---- build: the .NET 10 SDK compiles the server against Microsoft.ML.OnnxRuntime.Gpu ----
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

# ---- runtime: CUDA 12 + cuDNN 9 (what ONNX Runtime 1.31's CUDA provider links against) + ASP.NET Core 10 ----
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS runtime
# The ASP.NET Core runtime is taken from Microsoft's own image of the same Ubuntu release
# (it lives in /usr/share/dotnet there); globalization is invariant, so no ICU is needed.
COPY --from=mcr.microsoft.com/dotnet/aspnet:10.0-noble /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
 && apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3t64 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin gan
WORKDIR /app
COPY --from=build /app ./
# Models are served from ./models relative to the working directory (Models:Path).
COPY models/ ./models/
ENV ASPNETCORE_URLS=http://+:5000 \
    Metrics__Urls=http://+:9464 \
    Models__Path=/app/models \
    Inference__ExecutionProvider=cuda \
    Inference__DeviceId=0 \
    Inference__AllowCpuFallback=false \
    DOTNET_gcServer=1
EXPOSE 5000 9464
USER gan
ENTRYPOINT ["dotnet", "GanInference.Server.dll"]
