#!/usr/bin/env python3
"""Tests of the docs check itself (tools/docs/cli-docs.py): how it reads blocks and markers, and that it fails on a
broken doc (a command that fails, drifted output, an unlabelled command, a not-run marker without an allowed reason,
a not-run command naming a path or a flag that does not exist) against the real server, that a sigint block's
command gets its Ctrl-C even when the check itself runs with SIGINT ignored, and that the ports it hands out are
below the ephemeral range. Run by
tools/ci/checks/cli-docs.sh after the build:  /usr/bin/python3 -m unittest tools/docs/test_cli_docs.py
"""
import importlib.util, os, signal, subprocess, sys, tempfile, textwrap, unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
spec = importlib.util.spec_from_file_location("cli_docs", os.path.join(HERE, "cli-docs.py"))
cli_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cli_docs)


class Parsing(unittest.TestCase):
    def test_blocks_carry_the_marker_right_before_them(self):
        lines = ["text", "<!-- not run: needs a GPU -->", "```sh", "x", "```", "", "```console", "$ y", "```"]
        found = list(cli_docs.blocks(lines))
        self.assertEqual([(1 + 1, 4, "sh", "<!-- not run: needs a GPU -->"), (6, 8, "console", None)], found)

    def test_commands_join_backslashes_and_open_quotes_and_drop_comments(self):
        body = ["# a comment", "curl -s x -d '{", '  "a": 1}\'', "gan bench \\", "  --duration 1s   # why", ""]
        commands = cli_docs.commands_of_sh(body)
        self.assertEqual("curl -s x -d '{\n  \"a\": 1}'", commands[0])
        self.assertEqual(["gan", "bench", "--duration", "1s", "#", "why"], commands[1].split())
        self.assertEqual(2, len(commands))
        self.assertEqual("gan bench --duration 1s", cli_docs.strip_comment("gan bench --duration 1s   # why"))
        self.assertEqual("echo '# kept'", cli_docs.strip_comment("echo '# kept'"))

    def test_console_steps_keep_output_and_skip_comments(self):
        body = ["# setup", "$ gan a \\", "    --b", "out 1", "", "# note", "$ echo $?", "0"]
        steps = cli_docs.console_steps(body)
        self.assertEqual(["gan", "a", "--b"], steps[0][0].split())
        self.assertEqual((["out 1"], ["$ gan a \\", "    --b"]), steps[0][1:])
        self.assertEqual(("echo $?", ["0"], ["$ echo $?"]), steps[1])
        self.assertEqual(2, len(steps))

    def test_volatile_figures_are_masked(self):
        self.assertEqual(["50 at N images/s in N s"], cli_docs.masked(["50 at 1,234.5 images/s in 12 s"]))
        self.assertEqual(["N of N"], cli_docs.masked(["734 of 5000"], all_numbers=True))


class Interrupting(unittest.TestCase):
    """A `<!-- sigint -->` block's first step gets its Ctrl-C however the check itself was started."""

    def test_the_first_step_is_interrupted_even_when_the_check_runs_with_sigint_ignored(self):
        # A script's `cmd &` (without job control) starts the check with SIGINT ignored, and a process that
        # starts with it ignored keeps ignoring it (bash cannot even trap it; .NET installs no handler), so the
        # command used to run to its end ("5000 images in 'big'") instead of stopping as the doc shows.
        check = cli_docs.Check.__new__(cli_docs.Check)
        with tempfile.TemporaryDirectory() as work:
            check.cwd, check.env, check.ports, check.block_state = work, dict(os.environ), {}, {"tool_path": None}
            command = ("bash -c 'trap \"echo interrupted; exit 130\" INT; mkdir -p out; touch out/a.png; "
                       "for i in $(seq 100); do sleep 0.1; done; echo finished' --out out")
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                code, out = check.interrupted(command)
            finally:
                signal.signal(signal.SIGINT, previous)
        self.assertEqual((130, ["interrupted"]), (code, out))


class FreePorts(unittest.TestCase):
    """The ports the check gives its servers and scripts cannot be taken by a client socket before the server binds."""

    def test_ports_are_below_the_ephemeral_range_distinct_and_free(self):
        # CI once failed on `tools/bench/protocols.sh`: "Failed to bind to address http://127.0.0.1:48087: address
        # already in use". A port from bind(0) lies in the ephemeral range, where any connect() may take it first.
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
        ports = [cli_docs.free_port() for _ in range(200)]
        self.assertEqual([], [p for p in ports if p >= low - 1024], f"ports at or above {low - 1024} (ephemeral from {low})")
        self.assertEqual(len(ports), len(set(ports)), "a port handed out twice")
        for port in ports[:20]:
            with cli_docs.socket.socket() as s:
                s.bind(("127.0.0.1", port))  # still free: raises if not


class EndToEnd(unittest.TestCase):
    """The check against the real server on a doc written here: each problem must be reported, and exit 1."""

    def test_a_broken_doc_fails_with_each_problem_named(self):
        doc = textwrap.dedent("""\
            ```sh
            gan models
            gan generate --model no-such-model --count 1 --out x
            ```

            ```console
            $ gan generate --model cdcgan-mnist --count 0
            this is not what gan prints
            ```

            ```
            gan models
            ```

            <!-- not run: it is slow -->
            ```sh
            gan models
            ```

            """)
        # The last problem in a second file, checked at the same time by a second worker (--jobs 2).
        second = textwrap.dedent("""            <!-- not run: needs a Kubernetes cluster -->
            ```sh
            kubectl kustomize deploy/overlays/no-such-overlay | kubectl apply -f -
            gan dataset --model cdcgan-mnist --no-such-flag 1 --out x
            ```
            """)
        paths = []
        try:
            for text in (doc, second):
                with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as f:
                    f.write(text)
                    paths.append(f.name)
            result = subprocess.run([sys.executable, os.path.join(HERE, "cli-docs.py"), "--jobs", "2", *paths],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        finally:
            for path in paths:
                os.unlink(path)
        self.assertEqual(1, result.returncode, result.stdout)
        # Reported in the files' order whichever worker finished first.
        self.assertLess(result.stdout.index("looks like a command (`gan models`)"), result.stdout.index("does not know ['--no-such-flag']"))
        for expected in ["`gan generate --model no-such-model --count 1 --out x` exited",
                         "the output of `gan generate --model cdcgan-mnist --count 0` differs",
                         "looks like a command (`gan models`)",
                         "`<!-- not run: it is slow -->`: a block that is not run must say why",
                         "names deploy/overlays/no-such-overlay, which the repository does not have",
                         "does not know ['--no-such-flag']",
                         "6 problems in 2 files"]:
            self.assertIn(expected, result.stdout)
        self.assertNotIn("`gan models` exited", result.stdout)


if __name__ == "__main__":
    unittest.main()
