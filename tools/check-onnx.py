#!/usr/bin/python3
"""Validates ONNX files with onnx.checker (full_check: also runs shape inference).

Usage: /usr/bin/python3 tools/check-onnx.py PATH...   (Debian: apt-get install -y python3-onnx)

Use /usr/bin/python3 explicitly: a pyenv `python3` earlier on PATH usually lacks the onnx module.
Exits 1 if any file fails, naming the file and the checker's reason; 2 on bad usage.
"""
import sys

try:
    import onnx
    import onnx.checker
except ImportError:
    sys.stderr.write("check-onnx: the onnx module is missing; run apt-get install -y python3-onnx and use /usr/bin/python3\n")
    sys.exit(2)


def check(path: str) -> bool:
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:  # the checker raises several exception types; report all the same way
        sys.stderr.write(f"FAIL {path}: {error}\n")
        return False
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
    inputs = ", ".join(i.name for i in model.graph.input)
    outputs = ", ".join(o.name for o in model.graph.output)
    print(f"ok   {path}: IR {model.ir_version}, opset {opsets}, {len(model.graph.node)} nodes, inputs [{inputs}], outputs [{outputs}]")
    return True


def main(paths: list) -> int:
    if not paths:
        sys.stderr.write("usage: /usr/bin/python3 tools/check-onnx.py MODEL.onnx...\n")
        return 2
    results = [check(p) for p in paths]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
