// Accuracy of the centroid model on test.csv, written as metrics.json (and to $PIPE_METRICS, where pipe keeps it with the run).
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const { centroids } = JSON.parse(readFileSync(join(process.env.PIPE_IN_FIT, "model.json"), "utf8"))
const rows = readFileSync(join(process.env.PIPE_IN_SPLIT, "test.csv"), "utf8").trim().split("\n").slice(1)
let correct = 0
for (const r of rows) {
  const [c, v] = r.split(",")
  const best = Object.entries(centroids).sort((a, b) => Math.abs(a[1] - v) - Math.abs(b[1] - v))[0][0]
  if (best === c) correct++
}
const metrics = { test_acc: correct / rows.length, n: rows.length }
writeFileSync(join(process.env.PIPE_OUT, "metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`)
// The same figures for pipe: shown by pipe runs, pipe exps and pipe sweep.
if (process.env.PIPE_METRICS) writeFileSync(process.env.PIPE_METRICS, JSON.stringify(metrics))
console.log(`test accuracy ${(metrics.test_acc * 100).toFixed(1)}%`)
