/**
 * Data-stage benchmark (run by bench/run.mjs, which bundles this file): the demo pipeline's data stages on the
 * full Fashion-MNIST set, then how fast training-side code reads a split artifact and augments it.
 * Prints one JSON line of results.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { materialize } from "../artifacts/blobs.js"
import { openStore } from "../cache/store.js"
import { augmentBatch, epochRng, normalizeBatch, type AugmentPolicy } from "../ml/augment.js"
import { readImageSet } from "../ml/imageSet.js"

const [cli, pipelineFile, runsArg] = process.argv.slice(2) as [string, string, string]
const runs = Number(runsArg)
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const time = (f: () => void) => {
  const t0 = process.hrtime.bigint()
  f()
  return Number(process.hrtime.bigint() - t0) / 1e9
}

const dir = mkdtempSync(join(tmpdir(), "pipe-bench-data-"))
try {
  writeFileSync(join(dir, "pipeline.yaml"), readFileSync(pipelineFile, "utf8"))
  const env = { ...process.env }
  delete env["PIPE_STORE"]
  const events = execFileSync(process.execPath, [cli, "run", "--json"], { cwd: dir, env, encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, any>)
  const stage = (id: string) => events.find((e) => e["stage"] === id)!
  for (const id of ["download", "split", "augment"]) {
    if (stage(id)["status"] !== "ran") throw new Error(`${id} did not run: ${JSON.stringify(stage(id))}`)
  }

  const store = openStore(join(dir, ".pipe"))
  const view = join(dir, "view")
  materialize(store.root, store.records.files(stage("split")["output"]), view)
  const policyFiles = store.records.files(stage("augment")["output"])
  materialize(store.root, policyFiles, join(dir, "policy"))
  const policy = JSON.parse(readFileSync(join(dir, "policy", "policy.json"), "utf8")) as AugmentPolicy

  let set = readImageSet(view)
  const load = Array.from({ length: runs }, () => time(() => (set = readImageSet(view))))
  const train = set.splits["train"]!
  const order = Uint32Array.from({ length: train.count }, (_, i) => i)
  const out = new Float32Array(train.count * 784)
  const decode = Array.from({ length: runs }, () => time(() => normalizeBatch(policy, train.images, order, out)))
  const augment = Array.from({ length: Math.max(3, Math.floor(runs / 3)) }, (_, epoch) =>
    time(() => augmentBatch(policy, train.images, order, out, epochRng(policy, epoch)))
  )
  store.close()
  console.log(
    JSON.stringify({
      stages: Object.fromEntries(["download", "split", "augment"].map((id) => [id, stage(id)["ms"] / 1000])),
      images: set.splits["train"]!.count + set.splits["val"]!.count + set.splits["test"]!.count,
      train: train.count,
      load: median(load),
      decode: median(decode),
      augment: median(augment)
    })
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
