#!/usr/bin/env node
// Cuts the KServe CRD schemas that tools/deploy/validate.mjs needs out of KServe's own CRD files (no npm package
// carries them). Usage, from a checkout of github.com/kserve/kserve:
//   node tools/deploy/schemas/cut-kserve.mjs KSERVE_CHECKOUT COMMIT
// Writes schemas/kserve-servingruntime-v1alpha1.json (the whole openAPIV3Schema) and
// schemas/kserve-inferenceservice-v1beta1.json (the openAPIV3Schema with spec reduced to `predictor`: the
// transformer, explainer and canary branches are left out to keep the file small, so the validator refuses them as
// unknown fields until someone vendors them too).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const [checkout, commit] = process.argv.slice(2);
if (!checkout || !commit) {
  console.error("usage: cut-kserve.mjs KSERVE_CHECKOUT COMMIT");
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));

function cut(crdPath, version, out, reduce) {
  const crd = parse(readFileSync(join(checkout, crdPath), "utf8"));
  const v = crd.spec.versions.find((x) => x.name === version);
  const schema = v.schema.openAPIV3Schema;
  reduce?.(schema);
  const doc = {
    $comment: `openAPIV3Schema of ${crd.spec.names.kind} ${crd.spec.group}/${version}, from github.com/kserve/kserve ` +
      `${crdPath} at commit ${commit}${reduce ? " (spec reduced to predictor)" : ""}. Regenerate with schemas/cut-kserve.mjs.`,
    group: crd.spec.group,
    version,
    kind: crd.spec.names.kind,
    openAPIV3Schema: schema,
  };
  writeFileSync(join(here, out), JSON.stringify(doc) + "\n");
  console.log(`${out}: ${JSON.stringify(doc).length} bytes`);
}

cut("config/crd/full/serving.kserve.io_servingruntimes.yaml", "v1alpha1", "kserve-servingruntime-v1alpha1.json");
cut("config/crd/full/serving.kserve.io_inferenceservices.yaml", "v1beta1", "kserve-inferenceservice-v1beta1.json", (s) => {
  const spec = s.properties.spec;
  spec.properties = { predictor: spec.properties.predictor };
});
