/**
 * The demo pipeline of pipeline.yaml, composed in TypeScript: `pipe run -f pipelines/demo.ts` builds the same
 * DAG with the same cache keys, and a `needs` entry of the wrong artifact type does not compile.
 */
import { commandKind } from "../stages/command.js"
import { pipeline } from "./compose.js"

const p = pipeline("demo", "A small classification workflow built from command stages")
const script = (name: string) => `examples/demo/${name}.mjs`

const data = p.stage("data", commandKind, {
  description: "Generate a seeded sample data set",
  cmd: ["node", script("make-data")],
  deps: [script("make-data")],
  params: { rows: 500, classes: 4, seed: 7 }
})
const split = p.stage("split", commandKind, {
  description: "Split it into train and test",
  needs: [data],
  cmd: ["node", script("split")],
  deps: [script("split")],
  params: { ratio: 0.8 }
})
const fit = p.stage("fit", commandKind, {
  description: "Fit a nearest-centroid model",
  needs: [split],
  cmd: ["node", script("fit")],
  deps: [script("fit")],
  params: { note: "v1" }
})
const evaluate = p.stage("evaluate", commandKind, {
  description: "Test accuracy as metrics.json",
  needs: [fit, split],
  cmd: ["node", script("evaluate")],
  deps: [script("evaluate")]
})
p.stage("summary", commandKind, {
  description: "Print the metrics",
  needs: [evaluate],
  cmd: ["sh", "-c", 'cp "$PIPE_IN_EVALUATE/metrics.json" "$PIPE_OUT/" && cat "$PIPE_OUT/metrics.json"']
})

export default p
