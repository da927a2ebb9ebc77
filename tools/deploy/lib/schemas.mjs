// Schema validation of one Kubernetes object, with the unknown-field ("strict keys") pass.
//
// Sources of the schemas, all real and offline:
//   * core and built-in API groups: npm `kubernetes-models` (generated from Kubernetes' own OpenAPI document);
//   * keda.sh: npm `@kubernetes-models/keda`; monitoring.coreos.com: npm `@kubernetes-models/prometheus-operator`;
//   * serving.kserve.io: the CRD openAPIV3Schema vendored in ../schemas/ (no npm package carries it), checked with ajv;
//     their `metadata` (just `type: object` in a CRD) is checked as a Kubernetes ObjectMeta.
//
// Those validators accept unknown fields silently (the generated schemas have no additionalProperties: false), and a
// misspelt field is exactly the mistake that silently does nothing on a cluster. So the object is validated through
// proxies that record which keys of each JSON object the validator looked up: a key the schema knows is always
// looked up (`data.key !== undefined`), a map (additionalProperties, e.g. labels) is enumerated instead, and an object
// the validator never looked into is free-form (x-kubernetes-preserve-unknown-fields) and is skipped. Any own key of
// a typed object that the validator never asked for is unknown to the schema.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import standaloneCode from "ajv/dist/standalone/index.js";

const here = dirname(fileURLToPath(import.meta.url));

/** Packages that carry CRD models, by API group. */
const crdPackages = {
  "keda.sh": "@kubernetes-models/keda",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

/** CRD schemas vendored in ../schemas/, by "group/version/Kind". */
const vendored = {
  "serving.kserve.io/v1alpha1/ServingRuntime": "kserve-servingruntime-v1alpha1.json",
  "serving.kserve.io/v1beta1/InferenceService": "kserve-inferenceservice-v1beta1.json",
};

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, code: { source: true } });
// Compiling the InferenceService schema takes seconds; the generated code is kept in node_modules/.cache, keyed by
// the schema's hash and the ajv version, and imported on later runs.
const cacheDir = join(here, "..", "node_modules", ".cache", "gan-deploy-validate");
const ajvVersion = JSON.parse(readFileSync(join(here, "..", "node_modules", "ajv", "package.json"), "utf8")).version;
const compiled = new Map();
const modelValidators = new Map();

/** The validate function (data) => errors[] for an apiVersion/kind, or a string saying why there is none. */
export async function validatorFor(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (modelValidators.has(key)) return modelValidators.get(key);
  const result = await loadValidator(apiVersion, kind);
  modelValidators.set(key, result);
  return result;
}

async function loadValidator(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z0-9]+$/.test(kind)) {
    return "apiVersion and kind must be strings";
  }
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const vendoredFile = vendored[`${group}/${version}/${kind}`];
  if (vendoredFile) return crdValidator(vendoredFile);
  const pkg = crdPackages[group] ?? (group.includes(".") && !group.endsWith(".k8s.io") ? null : "kubernetes-models");
  if (!pkg) return `no schema for ${apiVersion} ${kind}: add its package or vendor its CRD schema (tools/deploy/README.md)`;
  const modulePath = pkg === "kubernetes-models" ? `${pkg}/${apiVersion}/${kind}` : `${pkg}/${group}/${version}/${kind}`;
  let mod;
  try {
    mod = await import(modulePath);
  } catch {
    return `no schema for ${apiVersion} ${kind} in ${pkg} (unknown kind or API version)`;
  }
  const cls = mod[kind];
  if (typeof cls?.prototype?.validate !== "function") return `no validator for ${apiVersion} ${kind} in ${pkg}`;
  return (data) => {
    try {
      cls.prototype.validate.call(data);
      return [];
    } catch (e) {
      if (Array.isArray(e.errors)) return e.errors;
      throw e;
    }
  };
}

let objectMetaValidate;
async function crdValidator(file) {
  if (!compiled.has(file)) compiled.set(file, await compileCached(file));
  const validate = compiled.get(file);
  if (!objectMetaValidate) {
    const { ObjectMeta } = await import("@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta");
    objectMetaValidate = ObjectMeta.prototype.validate;
  }
  return (data) => {
    const errors = validate(data) ? [] : [...validate.errors];
    // A CRD's schema says only `metadata: {type: object}`; the API server checks it as ObjectMeta.
    if (data.metadata && typeof data.metadata === "object") {
      try {
        objectMetaValidate.call(data.metadata);
      } catch (e) {
        if (!Array.isArray(e.errors)) throw e;
        for (const err of e.errors) errors.push({ ...err, instancePath: "/metadata" + err.instancePath });
      }
    }
    return errors;
  };
}

async function compileCached(file) {
  const text = readFileSync(join(here, "..", "schemas", file), "utf8");
  const key = createHash("sha256").update(`${ajvVersion}\n${text}`).digest("hex").slice(0, 16);
  const cached = join(cacheDir, `${file}.${key}.cjs`);
  if (existsSync(cached)) return createRequire(import.meta.url)(cached);
  const validate = ajv.compile(JSON.parse(text).openAPIV3Schema);
  try {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    writeFileSync(tmp, standaloneCode(ajv, validate));
    renameSync(tmp, cached);
  } catch {
    // no cache (read-only tree): compile every time
  }
  return validate;
}

/**
 * Validates one object: schema errors and unknown fields, each as { path, message } with a JSON path such as
 * `.spec.template.spec.containers[0].image`.
 */
export async function validateObject(obj) {
  const validate = await validatorFor(obj?.apiVersion, obj?.kind);
  if (typeof validate === "string") return [{ path: "", message: validate }];
  const records = [];
  const proxied = track(obj, [], records);
  const problems = [];
  for (const err of validate(proxied)) problems.push({ path: pointerToPath(err.instancePath), message: describe(err) });
  for (const rec of records) {
    if (rec.enumerated || rec.asked.size === 0 || rec.underUnknown) continue;
    for (const key of Object.keys(rec.target)) {
      if (!rec.asked.has(key)) problems.push({ path: joinPath(rec.path, key), message: "unknown field (not in the schema)" });
    }
  }
  return dedupe(problems);
}

/** Wraps every plain object of the tree in a recording proxy; arrays are copied with wrapped elements. */
function track(value, path, records) {
  if (Array.isArray(value)) return value.map((v, i) => track(v, [...path, i], records));
  if (value === null || typeof value !== "object") return value;
  const rec = { path, target: value, asked: new Set(), enumerated: false, underUnknown: false };
  records.push(rec);
  const copy = {};
  for (const key of Object.keys(value)) copy[key] = track(value[key], [...path, key], records);
  const note = (k) => {
    if (typeof k === "string") rec.asked.add(k);
  };
  return new Proxy(copy, {
    get(t, k, r) {
      note(k);
      return Reflect.get(t, k, r);
    },
    has(t, k) {
      note(k);
      return Reflect.has(t, k);
    },
    getOwnPropertyDescriptor(t, k) {
      note(k);
      return Reflect.getOwnPropertyDescriptor(t, k);
    },
    ownKeys(t) {
      rec.enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

function pointerToPath(pointer) {
  if (!pointer) return "";
  return pointer
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, seg) => joinPath(acc, /^\d+$/.test(seg) ? Number(seg) : seg), "");
}

export function joinPath(base, seg) {
  const prefix = Array.isArray(base) ? base.reduce((a, s) => joinPath(a, s), "") : base;
  if (typeof seg === "number") return `${prefix}[${seg}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(seg) ? `${prefix}.${seg}` : `${prefix}[${JSON.stringify(seg)}]`;
}

function describe(err) {
  const p = err.params ?? {};
  switch (err.keyword) {
    case "type":
      return `must be ${p.type}`;
    case "enum":
      return `must be one of ${JSON.stringify(p.allowedValues)}`;
    case "required":
      return `missing required field "${p.missingProperty}"`;
    case "additionalProperties":
      return `unknown field "${p.additionalProperty}"`;
    default:
      return err.message ?? err.keyword;
  }
}

function dedupe(problems) {
  const seen = new Set();
  return problems.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
