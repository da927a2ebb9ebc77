#!/usr/bin/env node
// Offline validation of deploy/ (docs/scaling.md, "What was validated").
//
//   node tools/deploy/validate.mjs [--root REPO] [--verbose]
//
// Renders every kustomization under REPO/deploy (each `kustomization.yaml` that is not a Component; components are
// rendered through the overlays that use them) with `kubectl kustomize`, parses the YAML, and checks every object:
//   1. against its real schema (lib/schemas.mjs: kubernetes-models, @kubernetes-models/keda,
//      @kubernetes-models/prometheus-operator, KServe's CRD openAPIV3Schema vendored in schemas/);
//   2. for unknown fields, which those schemas accept silently (the strict-keys pass of lib/schemas.mjs);
//   3. across objects (lib/checks.mjs): selectors and named ports, scale targets, the grace period against the
//      server's drain settings, the Job's shard count and CLI options, and every gan_* metric an autoscaler or
//      dashboard queries.
// Prints one line per problem, naming the render, the object (Kind/name) and the JSON path, and exits 1; prints
// nothing and exits 0 when all is well (--verbose lists what was checked). Exit 2: the renderer is missing or failed.
//
// The renderer is $KUBECTL, else `kubectl` on PATH, else tools/deploy/.bin/kubectl (tools/ci/checks/30-deploy.sh
// installs it there when the machine has none).
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments, parse } from "yaml";
import { validateObject } from "./lib/schemas.mjs";
import { crossChecks, knownCliFlags, knownMetrics } from "./lib/checks.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

const argv = process.argv.slice(2);
const verbose = argv.includes("--verbose") || argv.includes("-v");
const rootAt = argv.indexOf("--root");
const repoRoot = resolve(rootAt >= 0 ? argv[rootAt + 1] : join(here, "..", ".."));
const deployDir = join(repoRoot, "deploy");

function kubectl() {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, "kubectl"))) return join(dir, "kubectl");
  }
  const local = join(here, ".bin", "kubectl");
  return existsSync(local) ? local : null;
}

function* kustomizations(dir) {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* kustomizations(p);
    else if (e === "kustomization.yaml" || e === "kustomization.yml" || e === "Kustomization") {
      const k = parse(readFileSync(p, "utf8"));
      if (k?.kind !== "Component") yield dir;
    }
  }
}

async function render(bin, dir) {
  try {
    const { stdout } = await run(bin, ["kustomize", dir], { maxBuffer: 64 << 20 });
    return { text: stdout };
  } catch (e) {
    return { error: (e.stderr || e.message).trim() };
  }
}

async function main() {
  const bin = kubectl();
  if (!bin) {
    console.error("validate: no kubectl (set KUBECTL, put kubectl on PATH, or run tools/ci/checks/30-deploy.sh, which installs one)");
    return 2;
  }
  if (!existsSync(deployDir)) {
    console.error(`validate: ${deployDir} does not exist`);
    return 2;
  }
  const metrics = knownMetrics(repoRoot, join(here, "pending.json"));
  const cliFlags = knownCliFlags(repoRoot, join(here, "pending.json"));
  const dirs = [...kustomizations(deployDir)];
  const renders = await Promise.all(dirs.map((d) => render(bin, d)));
  const problems = [];
  let objectsChecked = 0;
  for (const [i, dir] of dirs.entries()) {
    const where = relative(repoRoot, dir);
    const report = (object, path, message) => problems.push(`${where}: ${object}${path ? ` ${path}` : ""}: ${message}`);
    if (renders[i].error) {
      report("(kustomize)", "", renders[i].error.split("\n").join(" | "));
      continue;
    }
    const objects = [];
    for (const doc of parseAllDocuments(renders[i].text)) {
      if (doc.errors.length > 0) {
        report("(yaml)", "", doc.errors.map((e) => e.message).join("; "));
        continue;
      }
      const obj = doc.toJS();
      if (obj === null || obj === undefined) continue;
      objects.push(obj);
    }
    if (objects.length === 0) report("(render)", "", "renders no object");
    for (const obj of objects) {
      const name = `${obj?.kind ?? "?"}/${obj?.metadata?.name ?? "?"}`;
      for (const p of await validateObject(obj)) report(name, p.path, p.message);
      objectsChecked++;
    }
    for (const p of crossChecks(objects, metrics, cliFlags)) report(p.object, p.path, p.message);
    if (verbose) console.log(`${where}: ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(", ")}`);
  }
  // Files beside the manifests that are not Kubernetes objects but name metrics (prometheus-adapter's rules).
  for (const file of walkValues(deployDir)) {
    let values;
    try {
      values = parse(readFileSync(file, "utf8"));
    } catch (e) {
      problems.push(`${relative(repoRoot, file)}: not YAML: ${e.message}`);
      continue;
    }
    for (const [path, query] of queries(values, "")) {
      for (const name of new Set(query.match(/\bgan_[a-z0-9_]+/g) ?? [])) {
        if (!metrics.has(name)) problems.push(`${relative(repoRoot, file)}: ${path}: metric ${name} is not exported by the server (${metrics.describe()})`);
      }
    }
  }
  for (const p of problems) console.log(p);
  if (verbose || problems.length > 0) {
    console.log(`validate: ${dirs.length} renders, ${objectsChecked} objects, ${problems.length} problem(s); metrics: ${metrics.describe()}; CLI: ${cliFlags.describe()}`);
  }
  return problems.length > 0 ? 1 : 0;
}

/** seriesQuery / metricsQuery strings of a prometheus-adapter values file, with their paths. */
function* queries(node, path) {
  if (Array.isArray(node)) for (const [i, v] of node.entries()) yield* queries(v, `${path}[${i}]`);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if ((k === "seriesQuery" || k === "metricsQuery") && typeof v === "string") yield [`${path}.${k}`, v];
      else yield* queries(v, `${path}.${k}`);
    }
  }
}

function* walkValues(dir) {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* walkValues(p);
    else if (/-values\.ya?ml$/.test(e)) yield p;
  }
}

process.exitCode = await main();
