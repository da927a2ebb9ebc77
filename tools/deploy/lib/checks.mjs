// Checks across the objects of one render that no schema can express, each tied to how the server behaves:
// references (selectors, named ports, scale targets), the shutdown arithmetic, the Job's shards, and the metric
// names that autoscalers and dashboards query. Each returns { object, path, message }.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const id = (o) => `${o.kind}/${o.metadata?.name ?? "?"}`;
const matches = (selector, labels) =>
  selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** Seconds the server's host waits after the drain timeout for the last answers (ShutdownOptions.AnswerGrace). */
export const ANSWER_GRACE_SECONDS = 1;

export function crossChecks(objects, knownMetrics, cliFlags) {
  const out = [];
  const add = (o, path, message) => out.push({ object: id(o), path, message });
  const byKind = (k) => objects.filter((o) => o.kind === k);
  const workloads = [...byKind("Deployment"), ...byKind("StatefulSet")];
  const podLabels = (w) => w.spec?.template?.metadata?.labels ?? {};

  for (const d of workloads) {
    if (!matches(d.spec?.selector?.matchLabels, podLabels(d))) {
      add(d, ".spec.selector.matchLabels", "does not match the pod template's labels");
    }
    const pod = d.spec?.template?.spec ?? {};
    for (const [i, c] of (pod.containers ?? []).entries()) {
      const need = shutdownSeconds(c);
      if (need !== null && (pod.terminationGracePeriodSeconds ?? 30) < need.total) {
        add(d, ".spec.template.spec.terminationGracePeriodSeconds",
          `${pod.terminationGracePeriodSeconds ?? "30 (default)"} is shorter than the shutdown of containers[${i}]: ${need.text}`);
      }
    }
  }

  for (const s of byKind("Service")) {
    const sel = s.spec?.selector;
    if (!sel || workloads.length === 0) continue;
    const targets = workloads.filter((w) => matches(sel, podLabels(w)));
    if (targets.length === 0) {
      add(s, ".spec.selector", "selects no pod of any Deployment in this render");
      continue;
    }
    for (const [i, p] of (s.spec.ports ?? []).entries()) {
      if (typeof p.targetPort !== "string") continue;
      const named = targets.some((w) =>
        (w.spec.template.spec.containers ?? []).some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort)));
      if (!named) add(s, `.spec.ports[${i}].targetPort`, `no container port is named "${p.targetPort}"`);
    }
  }

  for (const b of byKind("PodDisruptionBudget")) {
    if (workloads.length > 0 && !workloads.some((w) => matches(b.spec?.selector?.matchLabels, podLabels(w)))) {
      add(b, ".spec.selector.matchLabels", "selects no pod of any Deployment in this render");
    }
  }

  for (const m of byKind("ServiceMonitor")) {
    const services = byKind("Service").filter((s) => matches(m.spec?.selector?.matchLabels, s.metadata?.labels));
    if (services.length === 0) {
      add(m, ".spec.selector.matchLabels", "selects no Service in this render");
      continue;
    }
    if (services.length > 1) add(m, ".spec.selector.matchLabels", `selects ${services.length} Services: every pod would be scraped more than once`);
    for (const [i, e] of (m.spec.endpoints ?? []).entries()) {
      if (e.port && !services.every((s) => (s.spec.ports ?? []).some((p) => p.name === e.port))) {
        add(m, `.spec.endpoints[${i}].port`, `the selected Service has no port named "${e.port}"`);
      }
    }
  }

  for (const a of [...byKind("ScaledObject"), ...byKind("HorizontalPodAutoscaler")]) {
    const ref = a.spec?.scaleTargetRef ?? {};
    const kind = ref.kind ?? "Deployment";
    if (!objects.some((o) => o.kind === kind && o.metadata?.name === ref.name)) {
      add(a, ".spec.scaleTargetRef", `${kind}/${ref.name} is not in this render`);
    }
  }
  for (const a of [...byKind("ScaledObject"), ...byKind("HorizontalPodAutoscaler")]) {
    const target = workloads.find((w) => w.metadata?.name === a.spec?.scaleTargetRef?.name);
    if (target && target.spec?.replicas !== undefined) {
      add(target, ".spec.replicas", `set while ${id(a)} owns the replica count: every apply would reset it`);
    }
  }
  const autoscaled = [...byKind("ScaledObject"), ...byKind("HorizontalPodAutoscaler")].map((a) => a.spec?.scaleTargetRef?.name);
  if (new Set(autoscaled).size !== autoscaled.length) {
    out.push({ object: "(render)", path: "", message: "two autoscalers (KEDA ScaledObject and HPA) target the same workload" });
  }

  for (const a of byKind("ScaledObject")) {
    for (const [i, t] of (a.spec?.triggers ?? []).entries()) {
      if (t.type === "prometheus") {
        metricProblems(t.metadata?.query ?? "", knownMetrics, (m) => add(a, `.spec.triggers[${i}].metadata.query`, m));
      }
    }
  }
  for (const h of byKind("HorizontalPodAutoscaler")) {
    for (const [i, m] of (h.spec?.metrics ?? []).entries()) {
      const name = m.pods?.metric?.name ?? m.object?.metric?.name;
      if (name?.startsWith("gan_") && !knownMetrics.has(name)) {
        add(h, `.spec.metrics[${i}]`, `metric ${name} is not exported by the server (${knownMetrics.describe()})`);
      }
    }
  }
  for (const c of byKind("ConfigMap")) {
    for (const [key, text] of Object.entries(c.data ?? {})) {
      if (!key.endsWith(".json")) continue;
      let dash;
      try {
        dash = JSON.parse(text);
      } catch (e) {
        add(c, `.data[${JSON.stringify(key)}]`, `is not JSON: ${e.message}`);
        continue;
      }
      for (const [path, expr] of exprs(dash, "")) {
        metricProblems(expr, knownMetrics, (m) => add(c, `.data[${JSON.stringify(key)}]${path}`, m));
      }
    }
  }

  for (const j of byKind("Job")) out.push(...jobChecks(j, cliFlags));

  // KServe: the InferenceService's grace period must cover the runtime container's shutdown.
  for (const isvc of byKind("InferenceService")) {
    const runtime = byKind("ServingRuntime").find((r) => r.metadata?.name === isvc.spec?.predictor?.model?.runtime);
    if (!runtime) {
      add(isvc, ".spec.predictor.model.runtime", `ServingRuntime/${isvc.spec?.predictor?.model?.runtime} is not in this render`);
      continue;
    }
    const format = isvc.spec.predictor.model.modelFormat?.name;
    if (!(runtime.spec?.supportedModelFormats ?? []).some((f) => f.name === format)) {
      add(isvc, ".spec.predictor.model.modelFormat.name", `${format} is not a supported format of ServingRuntime/${runtime.metadata.name}`);
    }
    const proto = isvc.spec.predictor.model.protocolVersion;
    if (proto && !(runtime.spec?.protocolVersions ?? []).includes(proto)) {
      add(isvc, ".spec.predictor.model.protocolVersion", `${proto} is not among ServingRuntime/${runtime.metadata.name}'s protocolVersions`);
    }
    for (const c of runtime.spec?.containers ?? []) {
      const need = shutdownSeconds(c);
      const grace = isvc.spec.predictor.terminationGracePeriodSeconds ?? 30;
      if (need && grace < need.total) {
        add(isvc, ".spec.predictor.terminationGracePeriodSeconds", `${grace} is shorter than the runtime's shutdown: ${need.text}`);
      }
    }
  }
  return out;
}

/** preStop + NotServingDelay + Drain + answer grace of a server container, or null for other containers. */
function shutdownSeconds(c) {
  const env = Object.fromEntries((c.env ?? []).filter((e) => "value" in e).map((e) => [e.name, e.value]));
  const args = Object.fromEntries((c.args ?? []).map((a) => /^--(Shutdown:\w+)=(.*)$/.exec(a)).filter(Boolean).map((m) => [m[1].replace(":", "__"), m[2]]));
  const isServer = "Shutdown__DrainTimeoutSeconds" in env || "Shutdown__DrainTimeoutSeconds" in args || (c.ports ?? []).some((p) => p.containerPort === 5000);
  if (!isServer) return null;
  const num = (k, dflt) => Number(args[k] ?? env[k] ?? dflt);
  const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? preStopExecSleep(c.lifecycle?.preStop?.exec?.command) ?? 0;
  const delay = num("Shutdown__NotServingDelaySeconds", 0);
  const drain = num("Shutdown__DrainTimeoutSeconds", 30);
  const total = preStop + delay + drain + ANSWER_GRACE_SECONDS;
  return { total, text: `preStop ${preStop} + Shutdown:NotServingDelaySeconds ${delay} + Shutdown:DrainTimeoutSeconds ${drain} + answer grace ${ANSWER_GRACE_SECONDS} = ${total} s` };
}

function preStopExecSleep(command) {
  const m = Array.isArray(command) ? /(?:^|\s)sleep\s+(\d+(?:\.\d+)?)/.exec(command.join(" ")) : null;
  return m ? Number(m[1]) : null;
}

function jobChecks(j, cliFlags) {
  const out = [];
  const add = (path, message) => out.push({ object: id(j), path, message });
  for (const [i, c] of (j.spec?.template?.spec?.containers ?? []).entries()) {
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    if (cliFlags && /(^|\/)gan$/.test(String(argv[0] ?? ""))) {
      for (const [k, a] of (c.args ?? []).entries()) {
        if (typeof a === "string" && /^--[a-z][a-z0-9-]*$/.test(a) && !cliFlags.has(a)) {
          add(`.spec.template.spec.containers[${i}].args[${k}]`, `${a} is not an option of the gan CLI (${cliFlags.describe()})`);
        }
      }
    }
    const flag = (name) => {
      const at = argv.indexOf(name);
      return at >= 0 ? String(argv[at + 1]) : null;
    };
    const shardIndex = flag("--shard-index");
    const shardCount = flag("--shard-count");
    if (shardIndex === null && shardCount === null) continue;
    if (j.spec.completionMode !== "Indexed") add(".spec.completionMode", "a sharded `gan dataset` needs completionMode: Indexed");
    if (shardIndex !== null && shardIndex !== "$(JOB_COMPLETION_INDEX)") {
      add(`.spec.template.spec.containers[${i}].args`, `--shard-index is ${shardIndex}, not $(JOB_COMPLETION_INDEX): every pod would write the same shard`);
    }
    const completions = j.spec.completions;
    if (shardCount !== null && shardCount !== "$(JOB_COMPLETIONS)" && Number(shardCount) !== completions) {
      add(`.spec.template.spec.containers[${i}].args`, `--shard-count ${shardCount} differs from .spec.completions ${completions}: shards would be lost or written twice`);
    }
    const envCompletions = (c.env ?? []).find((e) => e.name === "JOB_COMPLETIONS");
    if (envCompletions && "value" in envCompletions && Number(envCompletions.value) !== completions) {
      add(`.spec.template.spec.containers[${i}].env`, `JOB_COMPLETIONS ${envCompletions.value} differs from .spec.completions ${completions}`);
    }
  }
  return out;
}

/** Every PromQL expression of a Grafana dashboard, with its JSON path. */
function* exprs(node, path) {
  if (Array.isArray(node)) {
    for (const [i, v] of node.entries()) yield* exprs(v, `${path}[${i}]`);
  } else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      const p = /^[A-Za-z_]\w*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`;
      if ((k === "expr" || k === "definition") && typeof v === "string") yield [p, v];
      else if (k === "query" && typeof v === "string") yield [p, v];
      else yield* exprs(v, p);
    }
  }
}

function metricProblems(expr, known, report) {
  for (const name of new Set(expr.match(/\bgan_[a-z0-9_]+/g) ?? [])) {
    if (!known.has(name)) report(`metric ${name} is not exported by the server (${known.describe()})`);
  }
}

/**
 * The Prometheus names of every `gan.*` instrument the server creates (scanned from src/**\/*.cs, named as the
 * OpenTelemetry Prometheus exporter names them), plus the names in pending.json that another change of
 * the same issue adds.
 */
export function knownMetrics(repoRoot, pendingFile) {
  const pendingAll = JSON.parse(readFileSync(pendingFile, "utf8"));
  const names = new Set();
  const sources = [];
  const re = /Create(Counter|UpDownCounter|Histogram|Gauge|ObservableCounter|ObservableUpDownCounter|ObservableGauge)<\w+>\(\s*"(gan\.[a-z0-9_.]+)"\s*,\s*(?:unit:\s*)?"([^"]*)"/g;
  for (const file of walk(join(repoRoot, "src"), (f) => f.endsWith(".cs"))) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(re)) {
      for (const n of promNames(m[1], m[2], m[3])) names.add(n);
      sources.push(m[2]);
    }
  }
  const pending = pendingAll.metrics ?? {};
  const pendingNames = Object.keys(pending).filter((n) => !names.has(n));
  for (const n of pendingNames) names.add(n);
  const set = new Set(names);
  set.describe = () => `${sources.length} gan.* instruments found in src/, plus pending ${pendingNames.join(", ") || "none"}`;
  set.pending = pendingNames;
  return set;
}

/** Every option name (`"--flag"` string literal) in src/GanInference.Cli, plus the pending ones. */
export function knownCliFlags(repoRoot, pendingFile) {
  const flags = new Set();
  for (const file of walk(join(repoRoot, "src", "GanInference.Cli"), (f) => f.endsWith(".cs"))) {
    for (const m of readFileSync(file, "utf8").matchAll(/"(--[a-z][a-z0-9-]*)"/g)) flags.add(m[1]);
  }
  const found = flags.size;
  const pending = Object.keys(JSON.parse(readFileSync(pendingFile, "utf8")).cliFlags ?? {}).filter((f) => !flags.has(f));
  for (const f of pending) flags.add(f);
  flags.describe = () => `${found} options found in src/GanInference.Cli, plus pending ${pending.join(", ") || "none"}`;
  return flags;
}

function promNames(kind, name, unit) {
  let base = name.replace(/[^A-Za-z0-9_]/g, "_");
  const suffix = { s: "seconds", ms: "milliseconds", By: "bytes", "1": "ratio" }[unit];
  if (suffix && !base.endsWith(`_${suffix}`) && !(suffix === "ratio" && kind !== "Gauge" && kind !== "ObservableGauge")) base += `_${suffix}`;
  if (kind === "Counter" || kind === "ObservableCounter") return [base.endsWith("_total") ? base : `${base}_total`];
  if (kind === "Histogram") return [base, `${base}_bucket`, `${base}_sum`, `${base}_count`];
  return [base];
}

function* walk(dir, want) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    if (e === "bin" || e === "obj" || e === "node_modules" || e.startsWith(".")) continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* walk(p, want);
    else if (want(p)) yield p;
  }
}
