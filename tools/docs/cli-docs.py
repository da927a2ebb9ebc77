#!/usr/bin/env python3
"""Runs every `gan` command the README and the docs show, against a real server on the shipped models/,
and checks (or, with --update, rewrites) the output blocks of docs/cli.md, so they cannot drift.

  tools/docs/cli-docs.py            # check: every command runs; docs/cli.md's output blocks match
  tools/docs/cli-docs.py --update   # rewrite docs/cli.md's output blocks from this run
  tools/docs/cli-docs.py --update --update-illustrative   # also rerun and rewrite the illustrative (benchmark) blocks

Expects the server and the CLI built (tools/ci/checks/cli-docs.sh builds them first).

What runs, per file (README.md, docs/cli.md, docs/text-to-image.md, docs/image-to-image.md, examples/README.md):
* ```sh blocks: every line that starts with `gan ` or `dotnet run --project src/GanInference.Cli -- ` (run as
  `gan ...`); it must exit 0 (`gan bench` runs with `--duration 1s --warmup 0s`: its figures are never
  compared, and CI time is kept small). Other lines (starting the server, tools/test.sh, dotnet pack) are not run: the
  check starts its own server, and the rest are install steps.
* ```console blocks (docs/cli.md): each `$ command` is run and its output (stdout and stderr) compared with the
  lines under it, after replacing the run's folder with relative paths and the server's address with the
  default http://127.0.0.1:5000. Figures that vary between runs (`N images/s`) are not compared.
* A block after `<!-- illustrative: ... -->` shows figures that vary (throughput, latency): its commands are run
  with `--duration 1s --warmup 0s` to prove they work, and its text is left alone (the comment says what
  produced it). A block after `<!-- not run: reason -->` is skipped and listed.
Every file runs in a fresh folder holding links to examples/ and models/, so relative paths work as written.
"""
import argparse, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = ["README.md", "docs/cli.md", "docs/text-to-image.md", "docs/image-to-image.md", "examples/README.md"]
COMPARED = "docs/cli.md"
DEFAULT_ADDRESS = "http://127.0.0.1:5000"
CLI_PREFIX = "dotnet run --project src/GanInference.Cli -- "
VOLATILE = [(re.compile(r"\d[\d,]*(\.\d+)? images/s"), "N images/s")]
PROGRESS = re.compile(r"^\S+: \d+%$")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def blocks(lines):
    """(start, end, language, marker) of each fenced block: lines[start] is the opening fence, lines[end] the closing one."""
    i, marker = 0, None
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("<!--"):
            marker = line
        elif line.startswith("```"):
            language = line[3:].strip()
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith("```"):
                end += 1
            yield i, end, language, marker
            marker = None
            i = end
        elif line:
            marker = None
        i += 1


def commands_of_sh(body):
    """The runnable commands of a ```sh block, continuation lines joined."""
    joined, current = [], ""
    for line in body:
        current += line.rstrip()[:-1] + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            joined.append(current.strip())
            current = ""
    out = []
    for command in joined:
        if command.startswith(CLI_PREFIX):
            out.append("gan " + command[len(CLI_PREFIX):])
        elif command.startswith("gan "):
            out.append(command)
    return out


def console_steps(body):
    """[(command, documented output lines)] of a ```console block."""
    steps = []
    for line in body:
        if line.startswith("$ "):
            steps.append([line[2:], []])
        elif steps:
            steps[-1][1].append(line)
    return [(c, o) for c, o in steps]


class Runner:
    def __init__(self, work, address, env):
        self.work, self.address, self.env = work, address, env

    def run(self, command, cwd, shorten=False):
        if shorten:
            command = re.sub(r"--duration \S+", "--duration 1s", command)
            command = re.sub(r"--warmup \S+", "--warmup 0s", command)
        result = subprocess.run(["bash", "-c", command + " 2>&1"], cwd=cwd, env=self.env, stdout=subprocess.PIPE, timeout=600)
        text = result.stdout.decode("utf-8", "replace")
        text = text.replace(cwd + "/", "").replace(cwd, ".").replace(self.address, DEFAULT_ADDRESS)
        lines = [l.rstrip() for l in text.rstrip("\n").split("\n")] if text.strip() else []
        return result.returncode, [l for l in lines if not PROGRESS.match(l)]


def masked(lines):
    out = []
    for line in lines:
        for pattern, replacement in VOLATILE:
            line = pattern.sub(replacement, line)
        out.append(line.rstrip())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="rewrite docs/cli.md's output blocks")
    parser.add_argument("--update-illustrative", action="store_true",
                        help="with --update: also rerun the illustrative blocks' commands as written (full durations) and rewrite their text")
    parser.add_argument("--configuration", default="Debug")
    args = parser.parse_args()

    gan_dll = os.path.join(ROOT, f"src/GanInference.Cli/bin/{args.configuration}/net10.0/gan.dll")
    server_dll = os.path.join(ROOT, f"src/GanInference.Server/bin/{args.configuration}/net10.0/GanInference.Server.dll")
    for dll in (gan_dll, server_dll):
        if not os.path.exists(dll):
            sys.exit(f"cli-docs: {dll} is missing; build first (tools/ci/checks/cli-docs.sh does)")

    work = tempfile.mkdtemp(prefix="gan-cli-docs-")
    address = f"http://127.0.0.1:{free_port()}"
    server = subprocess.Popen(["dotnet", server_dll, "--urls", address, f"--Models:Path={os.path.join(ROOT, 'models')}", "--Http:Urls=", "--Models:Watch=false"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        bin_dir = os.path.join(work, "bin")
        os.makedirs(bin_dir)
        with open(os.path.join(bin_dir, "gan"), "w") as f:
            f.write(f"#!/bin/sh\nexec dotnet {gan_dll} \"$@\"\n")
        os.chmod(os.path.join(bin_dir, "gan"), 0o755)
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"], GAN_SERVER=address, DOTNET_NOLOGO="1", NO_COLOR="1")
        env.pop("GAN_API_KEY", None)
        runner = Runner(work, address, env)

        expected = sum(1 for d in os.listdir(os.path.join(ROOT, "models")) if os.path.exists(os.path.join(ROOT, "models", d, "gan.json")))
        deadline = time.time() + 180
        while True:
            code, out = runner.run("gan models --json", work)
            if code == 0 and len(json.loads("\n".join(out)).get("models", [])) >= expected:
                break
            if time.time() > deadline or server.poll() is not None:
                sys.exit(f"cli-docs: the server at {address} did not serve the {expected} models of models/ (last answer: {out[-3:]})")
            time.sleep(1)

        failures, skipped, ran = [], [], 0
        for name in FILES:
            path = os.path.join(ROOT, name)
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
            cwd = os.path.join(work, name.replace("/", "_"))
            os.makedirs(cwd)
            for link in ("examples", "models"):
                os.symlink(os.path.join(ROOT, link), os.path.join(cwd, link))
            replacements = []
            for start, end, language, marker in blocks(lines):
                body = lines[start + 1:end]
                if marker and marker.startswith("<!-- not run"):
                    skipped.append(f"{name}:{start + 1}: {marker}")
                    continue
                illustrative = bool(marker and marker.startswith("<!-- illustrative"))
                if language == "console" and illustrative and args.update and args.update_illustrative:
                    illustrative = False
                if language == "sh":
                    for command in commands_of_sh(body):
                        ran += 1
                        code, out = runner.run(command, cwd, shorten=illustrative or command.startswith("gan bench"))
                        if code != 0:
                            failures.append(f"{name}:{start + 1}: `{command}` exited {code}:\n    " + "\n    ".join(out[-5:]))
                elif language == "console" and name == COMPARED:
                    produced = []
                    for command, documented in console_steps(body):
                        ran += 1
                        code, out = runner.run(command, cwd, shorten=illustrative)
                        if illustrative:
                            if code != 0:
                                failures.append(f"{name}:{start + 1}: `{command}` exited {code}:\n    " + "\n    ".join(out[-5:]))
                            continue
                        # Keep the documented text when only the volatile figures differ (no churn on --update).
                        produced += ["$ " + command] + (documented if masked(out) == masked(documented) else out)
                        if masked(out) != masked(documented):
                            failures.append(f"{name}:{start + 1}: the output of `{command}` differs from the docs:\n"
                                            + "\n".join(f"    - {l}" for l in documented) + "\n" + "\n".join(f"    + {l}" for l in out))
                    if not illustrative:
                        replacements.append((start + 1, end, produced))
            if args.update and replacements:
                for first, end, produced in reversed(replacements):
                    lines[first:end] = produced
                with open(path, "w", encoding="utf-8") as f:
                    f.write("\n".join(lines))

        for line in skipped:
            print(f"cli-docs: not run: {line}")
        if failures and not args.update:
            print(f"cli-docs: {len(failures)} of {ran} documented commands failed or drifted:", file=sys.stderr)
            for failure in failures:
                print("  " + failure, file=sys.stderr)
            print("cli-docs: fix the command, or run tools/docs/cli-docs.py --update to regenerate docs/cli.md's output blocks.", file=sys.stderr)
            return 1
        if failures:
            print(f"cli-docs: updated {COMPARED}; {len(failures)} differences were rewritten or failed:")
            for failure in failures:
                print("  " + failure.split("\n")[0])
        print(f"cli-docs: {ran} documented commands ran against {len(os.listdir(os.path.join(ROOT, 'models')))} model folders")
        return 0
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
