#!/usr/bin/env node
// The validator's own test: a deliberately broken copy of deploy/ must fail, and each break must be reported with
// the render, the object and the JSON path named. A clean copy must pass (no false alarm from copying).
//
//   node tools/deploy/test-broken.mjs [--root REPO] [--verbose]
//
// Exit 0 and silent when every break was caught; otherwise prints what was missed and exits 1.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { validateObject } from "./lib/schemas.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const verbose = argv.includes("--verbose") || argv.includes("-v");
const rootAt = argv.indexOf("--root");
const repoRoot = resolve(rootAt >= 0 ? argv[rootAt + 1] : join(here, "..", ".."));

// file under deploy/, text to find (exactly once), replacement, what the validator must print (regex on one line).
const breaks = [
  // unknown fields (the schemas alone accept these silently)
  ["base/deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true",
    /^deploy\/overlays\/cpu: Deployment\/gan-inference \.spec\.template\.spec\.containers\[0\]\.securityContext\.readOnlyRootFileSystem: unknown field/],
  ["components/keda/scaledobject.yaml", "minReplicaCount: 2", "minReplicas: 2",
    /^deploy\/overlays\/gpu: ScaledObject\/gan-inference \.spec\.minReplicas: unknown field/],
  ["components/monitoring/servicemonitor.yaml", "scrapeTimeout: 10s", "scrapeTimout: 10s",
    /^deploy\/overlays\/cpu-hpa: ServiceMonitor\/gan-inference \.spec\.endpoints\[0\]\.scrapeTimout: unknown field/],
  ["kserve/inferenceservice.yaml", "storageUri: pvc://gan-models/", "storageURI: pvc://gan-models/",
    /^deploy\/kserve: InferenceService\/gan-mnist \.spec\.predictor\.model\.storageURI: unknown field/],
  ["jobs/dataset/job.yaml", "backoffLimitPerIndex: 3", "backoffLimitPerIndexx: 3",
    /^deploy\/jobs\/dataset: Job\/gan-dataset-cdcgan-mnist \.spec\.backoffLimitPerIndexx: unknown field/],
  // wrong types
  ["base/deployment.yaml", "replicas: 2 #", "replicas: two #",
    /^deploy\/base: Deployment\/gan-inference \.spec\.replicas: must be integer/],
  ["components/keda/scaledobject.yaml", "pollingInterval: 15", "pollingInterval: 15s",
    /^deploy\/overlays\/cpu: ScaledObject\/gan-inference \.spec\.pollingInterval: must be integer/],
  ["kserve/servingruntime.yaml", "priority: 1", "priority: high",
    /^deploy\/kserve: ServingRuntime\/gan-inference \.spec\.supportedModelFormats\[0\]\.priority: must be integer/],
  ["kserve/servingruntime.yaml", "multiModel: false", "multiModel: \"no\"",
    /^deploy\/kserve: ServingRuntime\/gan-inference \.spec\.multiModel: must be boolean/],
  // wrong enums
  ["base/services.yaml", "type: ClusterIP", "type: ClusterIp",
    /^deploy\/overlays\/cpu: Service\/gan-inference \.spec\.type: must be one of \["ClusterIP"/],
  ["base/deployment.yaml", "imagePullPolicy: IfNotPresent", "imagePullPolicy: IfMissing",
    /^deploy\/base: Deployment\/gan-inference \.spec\.template\.spec\.containers\[0\]\.imagePullPolicy: must be one of \["Always","IfNotPresent","Never"\]/],
  ["jobs/dataset/job.yaml", "completionMode: Indexed", "completionMode: Indexd",
    /^deploy\/jobs\/dataset: Job\/gan-dataset-cdcgan-mnist \.spec\.completionMode: must be one of/],
  // what no schema knows: the server's shutdown, the shards, the metric names, the references
  ["base/deployment.yaml", "terminationGracePeriodSeconds: 50", "terminationGracePeriodSeconds: 40",
    /^deploy\/overlays\/gpu: Deployment\/gan-inference \.spec\.template\.spec\.terminationGracePeriodSeconds: 40 is shorter than the shutdown of containers\[0\]: preStop 5 \+ Shutdown:NotServingDelaySeconds 5 \+ Shutdown:DrainTimeoutSeconds 30 \+ answer grace 5 = 45 s/],
  ["jobs/dataset/job.yaml", "- --shard-count\n            - \"4\"", "- --shard-count\n            - \"3\"",
    /^deploy\/jobs\/dataset: Job\/gan-dataset-cdcgan-mnist \.spec\.template\.spec\.containers\[0\]\.args: --shard-count 3 differs from \.spec\.completions 4/],
  ["jobs/dataset/job.yaml", "- --per-class", "- --per-klass",
    /^deploy\/jobs\/dataset: Job\/gan-dataset-cdcgan-mnist \.spec\.template\.spec\.containers\[0\]\.args\[5\]: --per-klass is not an option of the gan CLI/],
  ["components/keda/scaledobject.yaml", "query: sum(gan_queue_images{", "query: sum(gan_queued_images{",
    /^deploy\/overlays\/cpu: ScaledObject\/gan-inference \.spec\.triggers\[0\]\.metadata\.query: metric gan_queued_images is not exported/],
  ["components/keda/kustomization.yaml", "      name: gan-inference\n    patch:", "      name: gan-inference-v1\n    patch:",
    /^deploy\/overlays\/gpu: Deployment\/gan-inference \.spec\.replicas: set while ScaledObject\/gan-inference owns the replica count/],
  ["components/monitoring/servicemonitor.yaml", "- port: http", "- port: metrics",
    /^deploy\/overlays\/cpu: ServiceMonitor\/gan-inference \.spec\.endpoints\[0\]\.port: the selected Service has no port named "metrics"/],
];

function copyRepo() {
  const root = mkdtempSync(join(tmpdir(), "gan-deploy-broken-"));
  cpSync(join(repoRoot, "deploy"), join(root, "deploy"), { recursive: true });
  symlinkSync(join(repoRoot, "src"), join(root, "src"));
  return root;
}

function validate(root) {
  const r = spawnSync(process.execPath, [join(here, "validate.mjs"), "--root", root], { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const failures = [];
const clean = copyRepo();
const broken = copyRepo();
try {
  const cleanRun = validate(clean);
  if (cleanRun.status !== 0) failures.push(`the unmodified copy failed (exit ${cleanRun.status}):\n${cleanRun.out}`);

  for (const [file, from, to] of breaks) {
    const path = join(broken, "deploy", file);
    const text = readFileSync(path, "utf8");
    const count = text.split(from).length - 1;
    if (count !== 1) {
      failures.push(`deploy/${file}: "${from}" occurs ${count} times, not once: update this test with the manifest`);
      continue;
    }
    writeFileSync(path, text.replace(from, to));
  }
  const run = validate(broken);
  const lines = run.out.split("\n");
  if (run.status !== 1) failures.push(`the broken copy exited ${run.status}, not 1`);
  for (const [file, from, to, expected] of breaks) {
    if (!lines.some((l) => expected.test(l))) failures.push(`not reported: deploy/${file}: "${from}" -> "${to}" (expected ${expected})`);
  }
  if (verbose || failures.length > 0) {
    console.log(`test-broken: ${breaks.length} breaks; validator output on the broken copy (exit ${run.status}):\n${run.out}`);
  }
} finally {
  rmSync(clean, { recursive: true, force: true });
  rmSync(broken, { recursive: true, force: true });
}

// The strict-keys pass at depth in every kind, on the rendered objects in memory: an unknown key deep inside each must
// be named, and keys of maps (labels, annotations, nodeSelector, resource limits) must not.
const kubectlBin = process.env.KUBECTL ?? (spawnSync("sh", ["-c", "command -v kubectl"], { encoding: "utf8" }).stdout.trim() || join(here, ".bin", "kubectl"));
const rendered = ["overlays/cpu-hpa", "overlays/gpu", "kserve", "jobs/dataset"].flatMap((d) =>
  parseAllDocuments(execFileSync(kubectlBin, ["kustomize", join(repoRoot, "deploy", d)], { encoding: "utf8" })).map((x) => x.toJS()));
const pick = (kind) => structuredClone(rendered.find((o) => o.kind === kind));
const deep = [
  ["Deployment", (o) => (o.spec.template.spec.containers[0].env.find((e) => e.valueFrom).valueFrom.resourceFieldRef.bogus = 1), ".spec.template.spec.containers[0].env[4].valueFrom.resourceFieldRef.bogus"],
  ["Deployment", (o) => (o.spec.template.spec.volumes.find((v) => v.emptyDir).emptyDir.bogus = 1), ".spec.template.spec.volumes[1].emptyDir.bogus"],
  ["HorizontalPodAutoscaler", (o) => (o.spec.metrics[0].pods.metric.bogus = 1), ".spec.metrics[0].pods.metric.bogus"],
  ["ScaledObject", (o) => (o.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.bogus = 1), ".spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.bogus"],
  ["ServiceMonitor", (o) => (o.spec.endpoints[0].relabelings[0].bogus = 1), ".spec.endpoints[0].relabelings[0].bogus"],
  ["ServingRuntime", (o) => (o.spec.containers[0].readinessProbe.grpc.bogus = 1), ".spec.containers[0].readinessProbe.grpc.bogus"],
  ["ServingRuntime", (o) => (o.metadata.bogus = 1), ".metadata.bogus"],
  ["InferenceService", (o) => (o.spec.predictor.model.modelFormat.bogus = 1), ".spec.predictor.model.modelFormat.bogus"],
  ["Job", (o) => (o.spec.template.spec.containers[0].env[0].valueFrom.fieldRef.bogus = 1), ".spec.template.spec.containers[0].env[0].valueFrom.fieldRef.bogus"],
  ["PodDisruptionBudget", (o) => (o.spec.selector.bogus = 1), ".spec.selector.bogus"],
  ["Deployment", (o) => {
    o.spec.template.spec.nodeSelector = { "example.com/pool": "a" };
    o.metadata.annotations = { "example.com/x": "y" };
    o.spec.template.spec.containers[0].resources.limits["example.com/device"] = "1";
  }, null],
];
for (const [kind, mutate, path] of deep) {
  const obj = pick(kind);
  mutate(obj);
  const got = await validateObject(obj);
  if (path === null && got.length > 0) failures.push(`map keys flagged in ${kind}: ${JSON.stringify(got)}`);
  if (path !== null && !got.some((p) => p.path === path && /unknown field/.test(p.message))) {
    failures.push(`strict pass missed ${kind} ${path}: got ${JSON.stringify(got)}`);
  }
}

for (const f of failures) console.log(`test-broken: ${f}`);
if (verbose && failures.length === 0) console.log(`test-broken: all ${breaks.length} breaks reported, clean copy passed`);
process.exitCode = failures.length > 0 ? 1 : 0;
