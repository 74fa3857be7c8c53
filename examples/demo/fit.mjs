// "Trains" a nearest-centroid classifier on train.csv: the model is each class's mean value.
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const rows = readFileSync(join(process.env.PIPE_IN_SPLIT, "train.csv"), "utf8").trim().split("\n").slice(1)
const sums = new Map()
for (const r of rows) {
  const [c, v] = r.split(",")
  const s = sums.get(c) ?? [0, 0]
  sums.set(c, [s[0] + Number(v), s[1] + 1])
}
const centroids = Object.fromEntries([...sums].map(([c, [sum, n]]) => [c, sum / n]))
writeFileSync(join(process.env.PIPE_OUT, "model.json"), JSON.stringify({ centroids }, null, 2))
console.log(`fitted ${sums.size} centroids`)
