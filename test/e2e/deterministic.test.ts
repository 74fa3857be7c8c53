/**
 * Deterministic artifacts through the built CLI, in the shipped pipeline on a subset of the real data: timings
 * live in the run's record (its metrics), not in the content-hashed outputs, so a forced retrain that computes
 * the same weights gives the same `model` hash and nothing downstream reruns (early cutoff). Checked on
 * TensorFlow.js's `cpu` backend and on the torch engine on CPU; the report still shows the timings.
 */
import { readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { statuses, workspace, type Workspace } from "../support/cli.js"

const PIPELINE = readFileSync(resolve(import.meta.dirname, "../../pipeline.yaml"), "utf8")
const SMALL = [
  "--set", "download.limit=1000",
  "--set", "train-mlp.epochs=2",
  "--set", "train-cnn.epochs=1",
  "--set", "analyze.pca_points=300",
  "--set", "analyze.tsne_points=100",
  "--set", "analyze.tsne_iterations=250"
]
const CPU = ["--set", "train-mlp.backend=cpu", "--set", "evaluate-mlp.backend=cpu"]
const TORCH = ["--set", "train-mlp.engine=torch", "--set", "evaluate-mlp.engine=torch", "--set", "train-mlp.device=cpu", "--set", "evaluate-mlp.device=cpu"]

const stage = (events: ReadonlyArray<Record<string, any>>, id: string) => events.find((e) => e["event"] === "stage" && e["stage"] === id)!
const lines = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)

const workspaces: Array<Workspace> = []
afterAll(() => workspaces.forEach((w) => w.cleanup()))

/** The whole pipeline, then a forced retrain of the MLP, then the whole pipeline again. */
const retrain = async (engine: ReadonlyArray<string>) => {
  const ws = workspace({ "pipeline.yaml": PIPELINE })
  workspaces.push(ws)
  const first = await ws.json(["run", ...SMALL, ...engine])
  expect(first.code, first.stderr).toBe(0)
  expect(stage(first.events, "analyze")["status"]).toBe("ran")
  const forced = await ws.json(["run", "--force", "train-mlp", ...SMALL, ...engine])
  expect(forced.code, forced.stderr).toBe(0)
  const after = await ws.json(["run", ...SMALL, ...engine])
  expect(after.code, after.stderr).toBe(0)
  return { ws, first: first.events, forced: forced.events, after: after.events }
}

/** What every retrain must show, whichever engine trained. */
const expectDeterministic = (r: Awaited<ReturnType<typeof retrain>>) => {
  const a = stage(r.first, "train-mlp")
  const b = stage(r.forced, "train-mlp")
  expect(b["status"]).toBe("ran")
  expect(b["reason"]).toContain("--force")
  expect(b["run"]).not.toBe(a["run"])
  // the same training, the same bytes
  expect(b["output"]).toBe(a["output"])
  // the timings are in the runs' records
  for (const t of [a, b]) {
    expect(t["metrics"]["seconds"]).toBeGreaterThan(0)
    expect(t["metrics"]["images_per_s"]).toBeGreaterThan(0)
  }
  // early cutoff: nothing downstream of the retrained model reruns
  expect(statuses(r.after)).toMatchObject({ "train-mlp": "cached", "evaluate-mlp": "cached", analyze: "cached" })
  expect(Object.values(statuses(r.after)).every((s) => s === "cached")).toBe(true)
  const evaluate = stage(r.after, "evaluate-mlp")
  expect(evaluate["run"]).toBe(stage(r.first, "evaluate-mlp")["run"])
  expect(evaluate["metrics"]["ms_per_image_batch"]).toBeGreaterThan(0)
  expect(evaluate["metrics"]["ms_per_image_single"]).toBeGreaterThan(0)
  expect(stage(r.after, "analyze")["run"]).toBe(stage(r.first, "analyze")["run"])

  // and none of them in the artifacts
  const model = r.ws.artifact(a["output"])
  const summary = JSON.parse(readFileSync(model["summary.json"]!, "utf8"))
  expect(summary).toMatchObject({ model: "mlp", epochs: 2 })
  expect(summary).not.toHaveProperty("seconds")
  expect(summary).not.toHaveProperty("images_per_s")
  const records = lines(model["metrics.jsonl"]!)
  expect(records.filter((x) => x["type"] === "epoch").map((x) => x["epoch"])).toEqual([1, 2])
  for (const x of records) {
    expect(x).not.toHaveProperty("seconds")
    expect(x).not.toHaveProperty("images_per_s")
  }
  const metrics = JSON.parse(readFileSync(r.ws.artifact(evaluate["output"])["metrics.json"]!, "utf8"))
  expect(metrics.test_accuracy).toBeGreaterThan(0.5)
  expect(metrics).not.toHaveProperty("ms_per_image_batch")
  expect(metrics).not.toHaveProperty("ms_per_image_single")
  // the per-epoch timings are in the training run's log
  const log = readFileSync(b["log"], "utf8")
  expect(log).toMatch(/epoch 2\/2: .* \d+ img\/s, \d+\.\d s/)
}

/** The comparison table of the analyze stage's summary.md, as a row per run: its cells. */
const row = (md: string, run: string) =>
  md
    .split("\n")
    .find((l) => l.startsWith(`| ${run} |`))
    ?.split("|")
    .slice(1, -1)
    .map((c) => c.trim())

describe("deterministic artifacts", () => {
  it("on the tfjs cpu backend, a forced retrain gives the same model and reruns nothing downstream; reports keep the timings", async () => {
    const r = await retrain(CPU)
    expectDeterministic(r)
    expect(stage(r.first, "train-mlp")["metrics"]["backend"]).toBe("cpu")
    // the analyze stage's table shows the inference time and training time from the runs' records
    const md = readFileSync(r.ws.artifact(stage(r.first, "analyze")["output"])["summary.md"]!, "utf8")
    const cells = row(md, "train-mlp")!
    expect(cells.slice(0, 3)).toEqual(["train-mlp", "mlp", "101,770"])
    expect(cells[3]).toMatch(/^\d+\.\d+$/) // inference ms/image
    const ms: number = stage(r.first, "evaluate-mlp")["metrics"]["ms_per_image_batch"]
    expect(cells[3]).toBe(ms < 0.1 ? ms.toFixed(3) : ms.toFixed(2))
    expect(cells[5]).toMatch(/^\d+\.\d s$/) // training time
    expect(cells[6]).toBe("tfjs / cpu")
    expect(row(md, "train-cnn")![3]).toMatch(/^\d+\.\d+$/)
    // so does `pipe report`, which rebuilds it from the store
    const out = join(r.ws.dir, "report")
    const report = await r.ws.json(["report", "-o", out, ...SMALL, ...CPU])
    expect(report.code, report.stderr).toBe(0)
    const table = report.events[0]!["table"] as Array<Record<string, any>>
    const mlp = table.find((t) => t["label"] === "train-mlp")!
    expect(mlp["msPerImage"]).toBe(stage(r.first, "evaluate-mlp")["metrics"]["ms_per_image_batch"])
    // the latest training of the model: the forced one
    expect(mlp["trainSeconds"]).toBe(stage(r.forced, "train-mlp")["metrics"]["seconds"])
    const html = readFileSync(join(out, "report.html"), "utf8")
    expect(html).toMatch(/<td>train-mlp<\/td><td>mlp<\/td><td>101,770<\/td><td>\d+\.\d{3}<\/td>/)
  }, 300_000)

  it("on the torch engine on CPU, a forced retrain gives the same model and reruns nothing downstream", async () => {
    const r = await retrain(TORCH)
    expectDeterministic(r)
    expect(stage(r.first, "train-mlp")["metrics"]["backend"]).toBe("torch-cpu")
    const md = readFileSync(r.ws.artifact(stage(r.first, "analyze")["output"])["summary.md"]!, "utf8")
    expect(md).toMatch(/\| train-mlp \| mlp \| 101,770 \| \d+\.\d+ \| \d+\.\d\d% \| \d+\.\d s \| torch \/ torch-cpu \|/)
  }, 300_000)
})
