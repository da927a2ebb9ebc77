#!/usr/bin/env python3
"""Attributes `perf script -F comm,pid,tid,ip,sym,dso` samples to components by their leaf frame.

Usage: perf-components.py PERF_SCRIPT SERVER_PID
Prints, for the server process, the load generator (every other dotnet process) and idle time,
the share of all samples (both cores) each component took.
"""
import collections
import re
import sys

RULES = [  # (component, test on (symbol, dso)); first match wins
    ("ONNX Runtime kernels (inference)", lambda s, d: "onnxruntime" in d and "Microsoft.ML" not in s),
    ("image encoding (SkiaSharp, zlib)", lambda s, d: "SkiaSharp" in d or "libz" in d),
    ("kernel: loopback TCP, syscalls, scheduling", lambda s, d: "kernel" in d or d.startswith("[vdso")),
    ("runtime: GC, JIT, stubs", lambda s, d: any(x in d for x in ("libcoreclr", "libclrjit", "libSystem.Native", "libclrgc"))),
    ("libc: memcpy, malloc, locks", lambda s, d: "libc.so" in d or "libstdc++" in d or "libm.so" in d or "ld-linux" in d),
    ("gRPC + protobuf (managed)", lambda s, d: "Grpc." in s or "Google.Protobuf" in s),
    ("HTTP/2, pipelines, sockets (managed)", lambda s, d: any(x in s for x in ("Kestrel", "System.Net.", "Http2", "System.IO.Pipelines", "Microsoft.AspNetCore"))),
    ("batcher, tensor copies (GanInference.Core)", lambda s, d: "GanInference.Core" in s),
    ("other GanInference code", lambda s, d: "GanInference" in s),
    ("ONNX Runtime managed wrapper", lambda s, d: "Microsoft.ML.OnnxRuntime" in s),
    ("thread pool, tasks, locks (managed)", lambda s, d: "System.Threading" in s or "System.Runtime.CompilerServices" in s),
    ("other managed (BCL)", lambda s, d: s.startswith("[") or "System." in s or "Microsoft." in s or "perf-" in d),
]


def classify(symbol, dso):
    for name, test in RULES:
        if test(symbol, dso):
            return name
    return "other / unresolved"


def main():
    path, server_pid = sys.argv[1], sys.argv[2]
    counts = collections.Counter()
    header = re.compile(r"^(\S.*?)\s+(\d+)/(\d+)\s*$")
    frame = re.compile(r"^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")
    pending = None
    total = 0
    with open(path, errors="replace") as lines:
        for line in lines:
            m = header.match(line)
            if m:
                comm, pid = m.group(1), m.group(2)
                pending = ("server" if pid == server_pid else "idle" if pid == "0" else
                           "load generator" if comm.startswith("dotnet") or comm.startswith(".NET") else "other processes")
                total += 1
                if pending in ("idle", "other processes"):
                    counts[(pending, "")] += 1
                    pending = None
                continue
            if pending is not None:
                f = frame.match(line)
                if f:
                    counts[(pending, classify(f.group(1), f.group(2)))] += 1
                    pending = None
    if total == 0:
        sys.exit("no samples in " + path)
    for process in ("server", "load generator", "other processes", "idle"):
        rows = sorted(((c, comp) for (p, comp), c in counts.items() if p == process), reverse=True)
        share = sum(c for c, _ in rows) / total
        print(f"{process}: {share:6.1%} of all samples")
        for c, comp in rows:
            if comp:
                print(f"    {c / total:6.1%}  {comp}")
    print(f"({total} samples)")


if __name__ == "__main__":
    main()
