#!/usr/bin/env python3
"""The docs check: every shell command that README.md, docs/*.md, examples/*.md and deploy/*.md show runs as written
against a real server on the shipped models/ (or is marked, with a reason, as impossible on a CI machine and then
validated as far as it can be), and every ```console block's output is what the commands print.

  tools/docs/cli-docs.py            # check: every command runs; every console block's output matches
  tools/docs/cli-docs.py --update   # rewrite the console blocks' output from this run
  tools/docs/cli-docs.py --update --update-illustrative   # also rerun the illustrative (benchmark) blocks as written
  tools/docs/cli-docs.py docs/cli.md README.md             # only these files
  tools/docs/cli-docs.py --jobs 2                           # two files at a time (what tools/ci/checks/cli-docs.sh runs)

Expects the server and the CLI built (tools/ci/checks/cli-docs.sh builds them and installs what this needs).

Convention for doc authors (docs/cli.md "How the docs are checked" says the same):
* A command goes in a ```sh (or ```bash) block, one command a line (`\\` continues a line; `# ...` comments are fine),
  or in a ```console block as `$ command` followed by its real output. Every such command runs, from a fresh folder
  per file that holds links to the repository's tracked top-level entries (models/, examples/, tools/, src/, ...), so
  relative paths work as written. A ```sh command must exit 0; a ```console step's output (stdout and stderr) is
  compared with the lines under it (its exit code is not: error examples are welcome; `$ echo $?` prints the exit
  code of the step before it). Output lines starting with `# ` in a console block are comments.
* A block that is not a command (a diagram, a file, pseudo-code) is ```text (or json, python, ...). An unlabelled
  block, or a ```text one, that holds lines which look like commands fails the check: label it.
* The check runs one server (`--urls` and `--Http:Urls` on free ports on 127.0.0.1, shipped models/) and points
  every command at it (`curl` runs with --fail-with-body, so an HTTP error fails): `$GAN_SERVER` is its gRPC address; `localhost:5000`/`127.0.0.1:5000` in a command become its
  gRPC address, `localhost:8000`/`127.0.0.1:8000` its HTTP/1.1 listener (REST, OIP REST, /metrics); any other
  `127.0.0.1:PORT` becomes a free port (the same one within a file). Output shows the documented addresses again.
* Commands that start a server (`dotnet run --project src/GanInference.Server ...`, `dotnet ...Server.dll ... &`)
  are started on free ports, must answer `gan models` within 3 minutes, and are stopped at the end of their block;
  `dotnet run --project src/GanInference.Server` and `... GanInference.Cli --` run the builds the check made.
* Figures never compared: `gan bench` runs with `--duration 1s --warmup 0s`; the tools/bench/*.sh scripts with
  DURATION=1s WARMUP=0s ROUNDS=1 SECONDS_PROFILED=1 WARMUP_SECONDS=0 IDLE=1 REPEATS=1 REPEAT_WARMUP=0s CONFIGURATION=Debug NO_BUILD=1 (their
  documented knobs). `dotnet pack -o DIR`, `dotnet publish -o DIR`: DIR is a folder of the run (`dotnet pack`
  without -c packs the Debug build the check made: a Release compile would double the check's time);
  `dotnet tool install --global` installs into a tool path of the run (then first on PATH for the block).
  `grpcurl` is tools/docs/grpcurl.py (a stand-in over server reflection: no registry CI reaches packages grpcurl).
* Markers, an HTML comment on the line(s) before the block:
  - `<!-- illustrative: why -->` (```console): the figures vary between runs; the commands run (shortened) and
    must exit 0; the text is not compared (--update --update-illustrative rewrites it from a full run).
  - `<!-- sigint: why -->` (```console): the block's first step is interrupted with SIGINT once its --out folder
    holds a finished image; every number in the block's output is masked before comparing.
  - `<!-- not run: REASON -->`: the block cannot run on a CI machine. REASON starts with one of NOT_RUN's keys
    (`needs a GPU`, `needs a CPU whose`, `needs a Kubernetes cluster`, `needs a Docker engine`,
    `needs an interactive terminal`, `runs for longer than the check`, `runs this check`) and says why; the check lists it and still validates
    what it can: every repository path the commands name exists; `gan` flags exist (`gan CMD --help`);
    `kubectl kustomize PATH | kubectl apply -f -` renders PATH with kubectl; `docker build` has its Dockerfile and
    `docker run` an image tag a `docker build -t` of the file makes; a repo script parses (`bash -n`) and knows
    the flags given; a trainer command's verb and flags exist in tools/GanInference.Trainers.
"""
import argparse, glob, json, os, queue, random, re, shlex, shutil, signal, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATTERNS = ["README.md", "docs/**/*.md", "examples/**/*.md", "deploy/**/*.md"]
RUN_LANGUAGES = {"sh", "bash", "shell", "console"}
GRPC_DEFAULT, HTTP_DEFAULT = "127.0.0.1:5000", "127.0.0.1:8000"
CLI_PREFIX = "dotnet run --project src/GanInference.Cli -- "
# A documented server start, with or without a configuration (-c Release): replaced by the check's own server build.
SERVER_RUN = re.compile(r"^dotnet run (?:-c \S+ )?--project src/GanInference\.Server\b\s*(?:--\s*)?")
VOLATILE = [(re.compile(r"\d[\d,]*(\.\d+)? images/s"), "N images/s"), (re.compile(r"\bin \d+ s\b"), "in N s")]
PROGRESS = re.compile(r"^\S+: \d+%$")
SHORT_ENV = {"DURATION": "1s", "WARMUP": "0s", "ROUNDS": "1", "SECONDS_PROFILED": "1", "WARMUP_SECONDS": "0", "IDLE": "1", "REPEATS": "1", "REPEAT_WARMUP": "0s"}
SCRIPT_ENV = "CONFIGURATION=Debug NO_BUILD=1"
NOT_RUN = ["needs a GPU", "needs a CPU whose", "needs a Kubernetes cluster", "needs a Docker engine", "needs an interactive terminal",
           "runs for longer than the check", "runs this check"]
# A line of an unlabelled or ```text block that starts like this is taken for a command.
COMMAND_LIKE = re.compile(r"^\s*(\$ |\$[A-Z]+ |gan |dotnet |curl |grpcurl |kubectl |docker |bash |node |npm |python3? |"
                          r"/usr/bin/python3 |tools/\S+\.(sh|py|mjs)|[A-Z_]+=\S*\s+\S)")


def ephemeral_low():
    """The first port of the kernel's range for client sockets' local ports (net.ipv4.ip_local_port_range)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


_ports_handed_out, _ports_lock = set(), threading.Lock()


def free_port():
    """A loopback port nothing listens on now, for a server this check starts later.

    Not bind(("127.0.0.1", 0)): that hands out a port of the ephemeral range, and until the server binds it any
    client socket's connect() may take it (CI lost a run to "address already in use" that way, with many bench
    clients running beside it). Below that range only an explicit bind takes a port; and the ports handed out are
    remembered, so two servers of this check never get the same one. The top 1,024 ports below the range are
    left alone: a script may count up from a port it is given (tools/bench/replicas.sh)."""
    low = ephemeral_low()
    first, last = max(1024, low - 16384), low - 1024
    if last - first < 256:
        raise RuntimeError(f"net.ipv4.ip_local_port_range starts at {low}: no room below it for the check's servers' ports")
    with _ports_lock:
        start = random.randrange(first, last)
        for offset in range(last - first):
            port = first + (start - first + offset) % (last - first)
            if port in _ports_handed_out:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _ports_handed_out.add(port)
            return port
    raise RuntimeError(f"no free loopback port in {first}-{last - 1}")


def doc_files():
    found = set()
    for pattern in PATTERNS:
        found.update(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern), recursive=True))
    tracked = set(subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, stdout=subprocess.PIPE,
                                 text=True).stdout.split("\n"))
    return sorted(f for f in found if f in tracked)


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


def open_quote(text):
    """The quote character left open at the end of `text` (shell rules, roughly), or None."""
    quote, i = None, 0
    while i < len(text):
        c = text[i]
        if quote is None and c == "\\":
            i += 2
            continue
        if quote is None and c == "#" and (i == 0 or text[i - 1] in " \t"):
            break  # a comment: quotes after it do not count
        if c in "'\"" and (quote is None or quote == c):
            quote = None if quote == c else c
        i += 1
    return quote


def join_continuations(body):
    """Logical commands: lines ending in `\\` are joined with the next; a quote left open continues on the next line."""
    joined, current = [], ""
    for line in body:
        current = current + "\n" + line if current and open_quote(current) else current + line
        if open_quote(current) is None:
            if current.rstrip().endswith("\\"):
                current = current.rstrip()[:-1] + " "
                continue
            joined.append(current.strip())
            current = ""
    if current.strip():
        joined.append(current.strip())
    return joined


def commands_of_sh(body):
    """The commands of a ```sh block, continuation lines joined; comment lines and blank lines dropped."""
    return [c for c in join_continuations(body) if c and not c.startswith("#")]


def console_steps(body):
    """[(command, documented output lines, documented command lines)] of a ```console block; `# ` lines are comments."""
    steps, i = [], 0
    while i < len(body):
        line = body[i]
        if line.startswith("$ "):
            command, first = line[2:], i
            while i + 1 < len(body) and (command.rstrip().endswith("\\") or open_quote(command)):
                i += 1
                command = command.rstrip()[:-1] + " " + body[i].strip() if not open_quote(command) else command + "\n" + body[i]
            steps.append([command, [], body[first:i + 1]])
        elif steps and not (line.startswith("# ") or line == "#"):
            steps[-1][1].append(line)
        i += 1
    for step in steps:  # a blank line before a comment or the next step is layout, not output
        while step[1] and not step[1][-1].strip():
            step[1].pop()
    return [tuple(step) for step in steps]


def strip_comment(command):
    """The command without a trailing `# comment` (a # after a blank, with no quote after it)."""
    return re.sub(r"\s+#(?=[^'\"]*$).*$", "", command).strip()


def masked(lines, all_numbers=False):
    out = []
    for line in lines:
        for pattern, replacement in VOLATILE:
            line = pattern.sub(replacement, line)
        if all_numbers:
            line = re.sub(r"\d[\d,.]*", "N", line)
        out.append(line.rstrip())
    return out


class Check:
    def __init__(self, args, work, grpc, http, gan_dll, server_dll):
        self.args, self.work, self.grpc, self.http = args, work, grpc, http
        self.gan_dll, self.server_dll = gan_dll, server_dll
        self.failures, self.skipped, self.ran, self.times = [], [], 0, []
        self.bin = os.path.join(work, "bin")
        os.makedirs(self.bin)
        with open(os.path.join(self.bin, "gan"), "w") as f:
            f.write(f"#!/bin/sh\nexec dotnet {gan_dll} \"$@\"\n")
        with open(os.path.join(self.bin, "grpcurl"), "w") as f:
            f.write(f"#!/bin/sh\nexec /usr/bin/python3 {os.path.join(ROOT, 'tools/docs/grpcurl.py')} \"$@\"\n")
        for name in ("gan", "grpcurl"):
            os.chmod(os.path.join(self.bin, name), 0o755)
        kubectl = os.path.join(ROOT, "tools/deploy/.bin")
        self.env = dict(os.environ, PATH=os.pathsep.join([self.bin, os.environ["PATH"], kubectl]),
                        GAN_SERVER=f"http://{grpc}", DOTNET_NOLOGO="1", NO_COLOR="1", DOTNET_CLI_TELEMETRY_OPTOUT="1")
        self.env.pop("GAN_API_KEY", None)

    # ---- one file -------------------------------------------------------------------------------------------
    def file(self, name):
        path = os.path.join(ROOT, name)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        self.cwd = os.path.join(self.work, name.replace("/", "_"))
        os.makedirs(self.cwd)
        for entry in sorted({p.split("/")[0] for p in subprocess.run(["git", "ls-files"], cwd=ROOT, stdout=subprocess.PIPE,
                                                                     text=True).stdout.split("\n") if p}):
            os.symlink(os.path.join(ROOT, entry), os.path.join(self.cwd, entry))
        self.ports = {GRPC_DEFAULT: self.grpc, HTTP_DEFAULT: self.http}
        self.name = name
        replacements = []
        for start, end, language, marker in blocks(lines):
            body = lines[start + 1:end]
            where = f"{name}:{start + 1}"
            if language not in RUN_LANGUAGES:
                if language in ("", "text"):
                    looks = [l for l in body if COMMAND_LIKE.match(l)]
                    if looks:
                        self.fail(where, f"an unlabelled/text block holds what looks like a command (`{looks[0].strip()}`): "
                                         "put commands in ```sh or ```console (with a marker if they cannot run), or "
                                         "reword the block")
                continue
            if marker and marker.startswith("<!-- not run"):
                self.not_run(where, marker, body, language)
                continue
            kind = "illustrative" if marker and marker.startswith("<!-- illustrative") else \
                   "sigint" if marker and marker.startswith("<!-- sigint") else None
            self.block_state = {"servers": [], "tool_path": None, "vars": []}
            try:
                if language == "console":
                    produced = self.console(where, body, kind)
                    if produced is not None:
                        replacements.append((start + 1, end, produced))
                else:
                    for command in commands_of_sh(body):
                        self.ran += 1
                        code, out = self.run(command)
                        if code != 0:
                            self.fail(where, f"`{command}` exited {code}:\n    " + "\n    ".join(out[-8:]))
            finally:
                for server in self.block_state["servers"]:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()
        if self.args.update and replacements:
            for first, end, produced in reversed(replacements):
                lines[first:end] = produced
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines))

    def fail(self, where, message):
        self.failures.append(f"{where}: {message}")

    # ---- console blocks -------------------------------------------------------------------------------------
    def console(self, where, body, kind):
        illustrative = kind == "illustrative" and not (self.args.update and self.args.update_illustrative)
        produced, last_code = [], 0
        steps = console_steps(body)
        comments = {i for i, l in enumerate(body) if l.startswith("# ") or l == "#"}
        for index, (command, documented, written) in enumerate(steps):
            self.ran += 1
            if command.strip() == "echo $?":
                code, out = 0, [str(last_code)]
            elif kind == "sigint" and index == 0:
                code, out = self.interrupted(command)
            else:
                code, out = self.run(command, shorten=not (self.args.update and self.args.update_illustrative))
            last_code = code
            if illustrative:
                if code != 0:
                    self.fail(where, f"`{command}` exited {code}:\n    " + "\n    ".join(out[-8:]))
                continue
            compared = [l for l in documented if not PROGRESS.match(l)]
            same = masked(out, kind == "sigint") == masked(compared, kind == "sigint")
            # Keep the documented text when only the volatile figures differ (no churn on --update).
            produced += written + (documented if same else out)
            if not same:
                self.fail(where, f"the output of `{command}` differs from the docs:\n"
                          + "\n".join(f"    - {l}" for l in documented) + "\n" + "\n".join(f"    + {l}" for l in out))
        if illustrative or comments:
            return None  # blocks with comments are not rewritten (their layout is the author's)
        return produced

    def interrupted(self, command):
        """Runs `command` until its --out folder holds a finished image, then sends SIGINT; returns (code, output)."""
        out_dir = re.search(r"--out (\S+)", command)
        if not out_dir:
            return 2, [f"cli-docs: a sigint block's first command needs --out (not in `{command}`)"]
        folder = os.path.join(self.cwd, out_dir.group(1))
        # SIGINT back to its default in the child: a check started as a script's `cmd &` (no job control) inherits
        # it ignored, and a process that starts with it ignored keeps ignoring it (bash, .NET), so the Ctrl-C below
        # would never arrive.
        process = subprocess.Popen(["bash", "-c", "exec " + self.prepare(command)], cwd=self.cwd, env=self.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None:
            if any(f.endswith(".png") for _, _, files in os.walk(folder) for f in files):
                break
            time.sleep(0.05)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        text, _ = process.communicate(timeout=120)
        return process.returncode, self.clean(text.decode("utf-8", "replace"))

    # ---- running one command --------------------------------------------------------------------------------
    def prepare(self, command, shorten=True):
        """The command as the check runs it (see the module docstring)."""
        command = strip_comment(command)
        if command.startswith(CLI_PREFIX):
            command = "gan " + command[len(CLI_PREFIX):]
        for documented, actual in list(self.ports.items()):
            command = re.sub(rf"(?:localhost|127\.0\.0\.1):{documented.split(':')[1]}\b", actual, command)
        for port in re.findall(r"(?:localhost|127\.0\.0\.1):(\d+)", command):
            if not any(actual.endswith(":" + port) for actual in self.ports.values()):
                self.ports[f"127.0.0.1:{port}"] = f"127.0.0.1:{free_port()}"
                command = re.sub(rf"(?:localhost|127\.0\.0\.1):{port}\b", self.ports[f"127.0.0.1:{port}"], command)
        if shorten:
            command = re.sub(r"--duration \S+", "--duration 1s", command)
            command = re.sub(r"--warmup \S+", "--warmup 0s", command)
            for key, value in SHORT_ENV.items():
                command = re.sub(rf"(^|\s){key}=\S+", rf"\g<1>{key}={value}", command)
        if re.search(r"(^|\s)tools/bench/\S+\.sh", command):
            # The short phases go first as well: a script's defaults (DURATION=10s, ...) apply when the doc sets none.
            short = " ".join(f"{key}={value}" for key, value in SHORT_ENV.items()) if shorten else ""
            command = f"{SCRIPT_ENV} {short} PORT={free_port()} METRICS_PORT={free_port()} HTTP_PORT={free_port()} {command}"
        if command.startswith("curl "):
            command = "curl --fail-with-body " + command[5:]  # an HTTP error status fails the command
        # A repository script runs from its real path, so one that changes to the repository root builds there.
        command = re.sub(r"^((?:[A-Z_]+=\S*\s+)*)(tools/\S+)", lambda m: m.group(1) + os.path.join(ROOT, m.group(2))
                         if os.path.isfile(os.path.join(ROOT, m.group(2))) else m.group(0), command)
        dotnet = re.match(r"^dotnet (pack|publish|build|tool install)\b", command)
        if dotnet:
            command = self.prepare_dotnet(command, dotnet.group(1))
        if self.block_state["tool_path"]:
            command = f"PATH={self.block_state['tool_path']}:$PATH " + command
        return command

    def prepare_dotnet(self, command, verb):
        words = shlex.split(command)
        out = []
        i = 0
        while i < len(words):
            w = words[i]
            if w in ("-o", "--output") and i + 1 < len(words):
                out += [w, os.path.join(self.cwd, words[i + 1])]
                i += 2
                continue
            if w == "--add-source" and i + 1 < len(words):
                out += [w, os.path.join(self.cwd, words[i + 1])]
                i += 2
                continue
            if w == "--global" and verb == "tool install":
                tool_path = os.path.join(self.cwd, ".dotnet-tools")
                self.block_state["tool_path"] = tool_path
                out += ["--tool-path", tool_path]
                i += 1
                continue
            if not w.startswith("-") and os.path.exists(os.path.join(ROOT, w)) and "/" in w:
                w = os.path.join(ROOT, w)  # build the repository's project where it is, not through the run's links
            out.append(w)
            i += 1
        if verb == "pack" and "-c" not in words and "--configuration" not in words:
            out += ["-c", "Debug"]  # packs the build the check made: a Release compile would double the check's time
        return " ".join(shlex.quote(w) for w in out)

    def clean(self, text):
        text = text.replace(self.cwd + "/", "").replace(self.cwd, ".").replace(ROOT + "/", "")
        for documented, actual in self.ports.items():
            text = text.replace(actual, documented)
        lines = [l.rstrip() for l in text.rstrip("\n").split("\n")] if text.strip() else []
        return [l for l in lines if not PROGRESS.match(l)]

    def run(self, command, shorten=True):
        began = time.time()
        try:
            return self.run_timed(command, shorten)
        finally:
            self.times.append((time.time() - began, self.name, strip_comment(command).split("\n")[0][:100]))

    def run_timed(self, command, shorten):
        command = strip_comment(command)
        server = SERVER_RUN.match(command) or (command.rstrip().endswith("&") and "GanInference.Server" in command)
        if server:
            return self.start_server(command)
        prepared = self.prepare(command, shorten)
        try:
            result = subprocess.run(["bash", "-c", "{ " + prepared + "\n} 2>&1"], cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                    timeout=600)
        except subprocess.TimeoutExpired:
            return 124, [f"cli-docs: `{prepared}` ran past 600 s"]
        return result.returncode, self.clean(result.stdout.decode("utf-8", "replace"))

    def start_server(self, command):
        """A documented server start: run in the background on free ports until the block ends."""
        command = command.rstrip().rstrip("&").rstrip()
        m = SERVER_RUN.match(command)
        if m:
            command = f"dotnet {self.server_dll} " + command[m.end():]
        prepared = self.prepare(command)
        if "--urls" not in prepared:
            prepared += f" --urls http://127.0.0.1:{free_port()}"
        if "--Http:Urls" not in prepared:
            prepared += f" --Http:Urls=http://127.0.0.1:{free_port()}"
        address = re.search(r"--urls[ =](\S+)", prepared).group(1)
        log = open(os.path.join(self.cwd, f"server-{len(self.block_state['servers'])}.log"), "w")
        server = subprocess.Popen(["bash", "-c", "exec " + prepared], cwd=self.cwd, env=self.env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.block_state["servers"].append(server)
        deadline = time.time() + 180
        while time.time() < deadline and server.poll() is None:
            r = subprocess.run(["dotnet", self.gan_dll, "--server", address, "models", "--json"], env=self.env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return 0, []
            time.sleep(1)
        log.close()
        with open(log.name) as f:
            return 1, [f"the server `{prepared}` did not answer `gan models` at {address}:"] + f.read().split("\n")[-8:]

    # ---- not run: what can be validated ---------------------------------------------------------------------
    def not_run(self, where, marker, body, language):
        reason = marker[len("<!-- not run"):].strip(" :-<>!").strip()
        if not any(reason.startswith(key) for key in NOT_RUN):
            self.fail(where, f"`{marker}`: a block that is not run must say why with one of: " + "; ".join(NOT_RUN)
                      + " (anything else runs in the check)")
            return
        commands = commands_of_sh(body) if language != "console" else [c for c, _, _ in console_steps(body)]
        checks = []
        for command in commands:
            problem = self.validate(command, body)
            if problem:
                self.fail(where, f"`{command}` (not run: {reason}): {problem}")
            else:
                checks.append(command.split()[0])
        self.skipped.append(f"{where}: {reason} ({len(commands)} command(s) validated)")

    def validate(self, command, body):
        words = shlex.split(re.sub(r"\$\(([^)]*)\)", r"\1", command), comments=True)
        if not words:
            return None
        for w in words:  # every repository path named exists
            candidate = w.split("=", 1)[-1].strip("[]()").rstrip("/")
            if "/" in candidate and not candidate.startswith(("/", "http", "dns:", "-", "$")) and "*" not in candidate \
                    and candidate.split("/")[0] in os.listdir(ROOT) and candidate.split("/")[0] not in ("artifacts", "runs"):
                placeholder = any(part.isupper() for part in candidate.split("/"))  # models/NAME, runs/NAME/...
                if not os.path.exists(os.path.join(ROOT, candidate)) and not placeholder and "{" not in candidate and "<" not in candidate:
                    return f"names {candidate}, which the repository does not have"
        program = words[0]
        if program == "kubectl" and "kustomize" in words:
            target = words[words.index("kustomize") + 1]
            r = subprocess.run(["kubectl", "kustomize", os.path.join(ROOT, target)], env=self.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
            return None if r.returncode == 0 else f"`kubectl kustomize {target}` failed: {r.stderr.strip()[-300:]}"
        if program == "docker" and len(words) > 1 and words[1] == "build":
            dockerfile = words[words.index("-f") + 1] if "-f" in words else os.path.join(words[-1], "Dockerfile")
            return None if os.path.isfile(os.path.join(ROOT, dockerfile)) else f"{dockerfile} does not exist"
        if program == "docker" and len(words) > 1 and words[1] == "run":
            tags = set(re.findall(r"docker build .*-t (\S+)", "\n".join(body)))
            return None if words[-1] in tags else f"image {words[-1]} is not built by a `docker build -t` of this block"
        if program == "gan":
            r = subprocess.run(["dotnet", self.gan_dll, words[1], "--help"], env=self.env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            flags = [w.split("=")[0] for w in words[2:] if w.startswith("--")]
            unknown = [f for f in flags if f not in r.stdout]
            if r.returncode != 0:
                return f"`gan {words[1]} --help` exited {r.returncode} (it should print the help and exit 0)"
            return f"`gan {words[1]} --help` does not know {unknown}" if unknown else None
        if program.startswith("tools/") and program.endswith(".sh"):
            script = os.path.join(ROOT, program)
            if subprocess.run(["bash", "-n", script]).returncode != 0:
                return f"{program} does not parse (bash -n)"
            text = open(script).read()
            unknown = [w for w in words[1:] if w.startswith("--") and w not in text]
            return f"{program} does not know {unknown}" if unknown else None
        if program == "$T" or "GanInference.Trainers" in command:
            verb = words[1] if program == "$T" else None
            source = "\n".join(open(p).read() for p in glob.glob(os.path.join(ROOT, "tools/GanInference.Trainers/**/*.cs"), recursive=True))
            unknown = [w for w in words[1:] if w.startswith("--") and f'"{w}"' not in source]
            if verb and f'"{verb}"' not in source:
                return f"the trainer has no verb {verb}"
            return f"the trainer does not know {unknown}" if unknown else None
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="only these files (default: README.md, docs/**/*.md, examples/**/*.md, deploy/**/*.md)")
    parser.add_argument("--update", action="store_true", help="rewrite the console blocks' output")
    parser.add_argument("--update-illustrative", action="store_true",
                        help="with --update: also rerun the illustrative blocks' commands as written (full durations) and rewrite their text")
    parser.add_argument("--configuration", default="Debug")
    parser.add_argument("--jobs", type=int, default=1,
                        help="doc files checked at once, each by a worker with folders of its own, against the one server "
                             "(the largest files start first; tools/ci/checks/cli-docs.sh uses 2)")
    args = parser.parse_args()
    started = time.time()

    gan_dll = os.path.join(ROOT, f"src/GanInference.Cli/bin/{args.configuration}/net10.0/gan.dll")
    server_dll = os.path.join(ROOT, f"src/GanInference.Server/bin/{args.configuration}/net10.0/GanInference.Server.dll")
    for dll in (gan_dll, server_dll):
        if not os.path.exists(dll):
            sys.exit(f"cli-docs: {dll} is missing; build first (tools/ci/checks/cli-docs.sh does)")

    work = tempfile.mkdtemp(prefix="gan-cli-docs-")
    grpc, http = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(["dotnet", server_dll, "--urls", f"http://{grpc}", f"--Models:Path={os.path.join(ROOT, 'models')}",
                               f"--Http:Urls=http://{http}", "--Models:Watch=false"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        if args.jobs < 1:
            sys.exit(f"cli-docs: --jobs {args.jobs}: give 1 or more doc files to check at once")
        checks = [Check(args, os.path.join(work, f"worker-{i}"), grpc, http, gan_dll, server_dll) for i in range(args.jobs)]
        expected = sum(1 for d in os.listdir(os.path.join(ROOT, "models")) if os.path.exists(os.path.join(ROOT, "models", d, "gan.json")))
        deadline = time.time() + 180
        while True:
            r = subprocess.run(["dotnet", gan_dll, "--server", f"http://{grpc}", "models", "--json"], env=checks[0].env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode == 0 and len(json.loads(r.stdout).get("models", [])) >= expected:
                break
            if time.time() > deadline or server.poll() is not None:
                sys.exit(f"cli-docs: the server at {grpc} did not serve the {expected} models of models/ (last answer: {r.stdout[-300:]})")
            time.sleep(1)

        files = args.files or doc_files()
        # Largest first, so a long file does not start last while the other workers sit idle.
        pending = queue.Queue()
        for name in sorted(files, key=lambda n: os.path.getsize(os.path.join(ROOT, n)), reverse=True):
            pending.put(name)
        found = {}  # file -> (failures, skipped) it added, reported in the files' own order
        report, crashed = threading.Lock(), []

        def work_through(worker):
            while not crashed:
                try:
                    name = pending.get_nowait()
                except queue.Empty:
                    return
                began, failures, skipped = time.time(), len(worker.failures), len(worker.skipped)
                try:
                    worker.file(name)
                except BaseException as error:  # the check itself broke: stop every worker and raise it below
                    crashed.append(error)
                    return
                with report:
                    found[name] = (worker.failures[failures:], worker.skipped[skipped:])
                    print(f"cli-docs: {name}: {time.time() - began:.0f} s", flush=True)

        threads = [threading.Thread(target=work_through, args=(worker,)) for worker in checks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if crashed:
            raise crashed[0]

        failures = [f for name in files for f in found[name][0]]
        skipped = [s for name in files for s in found[name][1]]
        ran = sum(worker.ran for worker in checks)
        for line in skipped:
            print(f"cli-docs: not run: {line}")
        for seconds, name, command in sorted((t for worker in checks for t in worker.times), reverse=True)[:8]:
            print(f"cli-docs: slowest: {seconds:5.1f} s  {name}: {command}")
        if failures and not args.update:
            print(f"cli-docs: {len(failures)} problems in {len(files)} files ({ran} documented commands ran):", file=sys.stderr)
            for failure in failures:
                print("  " + failure, file=sys.stderr)
            print("cli-docs: fix the command or the doc, or run tools/docs/cli-docs.py --update to regenerate the console blocks' output.", file=sys.stderr)
            return 1
        if failures:
            print(f"cli-docs: updated; {len(failures)} differences were rewritten or failed:")
            for failure in failures:
                print("  " + failure.split("\n")[0])
        print(f"cli-docs: {ran} documented commands ran in {len(files)} files, {len(skipped)} blocks not run "
              f"(validated, listed above), in {time.time() - started:.0f} s ({args.jobs} at once)")
        return 0
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
