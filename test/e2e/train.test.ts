/** train -> evaluate through the built CLI on a subset of the real data (wasm backend). */
import { existsSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { afterEach, describe, expect, it } from "vitest"
import { statuses, workspace, type Workspace } from "../support/cli.js"

const PIPELINE = readFileSync(resolve(import.meta.dirname, "../../pipeline.yaml"), "utf8")
/** Where a stage's problems are reported in the shipped pipeline: the first line of its map, after its id. */
const lineOf = (stage: string) => PIPELINE.split("\n").findIndex((l) => l === `  ${stage}:`) + 2
const SMALL = ["--set", "download.limit=5000", "--set", "train-mlp.epochs=1", "--set", "train-mlp.batch_size=64"]

let ws: Workspace
afterEach(() => ws?.cleanup())

const event = (events: ReadonlyArray<Record<string, any>>, stage: string) => events.find((e) => e["stage"] === stage)!

describe("train and evaluate", () => {
  it("train the MLP for an epoch well above chance, keep every artifact, and rerun fully cached", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["run", "evaluate-mlp", ...SMALL])
    expect(r.code).toBe(0)
    expect(statuses(r.events)).toEqual({ download: "ran", split: "ran", plain: "ran", "train-mlp": "ran", "evaluate-mlp": "ran" })

    const train = event(r.events, "train-mlp")
    expect(train["metrics"]).toMatchObject({ model: "mlp", backend: "wasm", parameters: 101770, epochs: 1 })
    expect(train["metrics"]["val_accuracy"]).toBeGreaterThan(0.7)
    const model = ws.artifact(train["output"])
    expect(Object.keys(model).sort()).toEqual(["config.json", "metrics.jsonl", "model.json", "policy.json", "summary.json", "weights.bin"])
    const config = JSON.parse(readFileSync(model["config.json"]!, "utf8"))
    expect(config).toMatchObject({ model: "mlp", engine: { engine: "tfjs", backend: "wasm", tfjs: "4.22.0" }, parameters: 101770 })
    const records = readFileSync(model["metrics.jsonl"]!, "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(records.filter((x) => x.type === "step").length).toBeGreaterThanOrEqual(10)
    expect(records.at(-1)).toMatchObject({ type: "epoch", epoch: 1 })
    expect(readFileSync(model["weights.bin"]!).length).toBe(101770 * 4)

    const evaluate = event(r.events, "evaluate-mlp")
    expect(evaluate["metrics"]["test_accuracy"]).toBeGreaterThan(0.7)
    expect(evaluate["metrics"]).toMatchObject({ parameters: 101770, backend: "wasm" })
    const metrics = JSON.parse(readFileSync(ws.artifact(evaluate["output"])["metrics.json"]!, "utf8"))
    expect(metrics.test_images).toBe(5000)
    expect(metrics.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(5000)
    const errors = Object.values(metrics.misclassified as Record<string, Array<number>>).reduce((a, l) => a + l.length, 0)
    expect(errors).toBe(Math.round(5000 * (1 - metrics.test_accuracy)))
    expect(metrics.per_class).toHaveLength(10)
    expect(metrics.per_class[6].class).toBe("Shirt")
    // inference times are in the run's record, not in the artifact (they would change its hash on every run)
    expect(evaluate["metrics"]["ms_per_image_single"]).toBeGreaterThan(0)
    expect(metrics).not.toHaveProperty("ms_per_image_single")

    const again = await ws.json(["run", "evaluate-mlp", ...SMALL])
    expect(Object.values(statuses(again.events))).toEqual(Array(5).fill("cached"))
    // cached events still carry the figures
    expect(event(again.events, "evaluate-mlp")["metrics"]).toEqual(evaluate["metrics"])
    // naming the backend that auto picked is the same key
    const named = await ws.json(["run", "evaluate-mlp", ...SMALL, "--set", "train-mlp.backend=wasm"])
    expect(statuses(named.events)["train-mlp"]).toBe("cached")
  }, 120_000)

  it("trains the small CNN on wasm", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["run", "evaluate-cnn", "--set", "download.limit=600", "--set", "train-cnn.epochs=1"])
    expect(r.code).toBe(0)
    expect(event(r.events, "train-cnn")["metrics"]).toMatchObject({ model: "cnn", backend: "wasm", parameters: 421738 })
    expect(event(r.events, "evaluate-cnn")["metrics"]["test_accuracy"]).toBeGreaterThan(0.1)
  }, 120_000)

  it("stops training promptly on Ctrl-C, recording the run as interrupted", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const child = ws.spawn(["run", "train-cnn", "--set", "download.limit=20000", "--set", "train-cnn.epochs=5"])
    const d0 = Date.now()
    for (;;) {
      await sleep(200)
      const db = existsSync(join(ws.dir, ".pipe", "pipe.db")) ? ws.db() : undefined
      let running: unknown
      try {
        running = db?.prepare("SELECT count(*) FROM runs WHERE stage = 'train-cnn' AND status = 'running'").pluck().get()
      } catch {
        // The database exists but pipe is still creating its tables: look again.
      } finally {
        db?.close()
      }
      if (running === 1) break
      if (Date.now() - d0 > 60_000) throw new Error("training did not start")
    }
    await sleep(1000)
    const t0 = Date.now()
    child.kill("SIGINT")
    const r = await child
    expect(r.exitCode).toBe(130)
    expect(Date.now() - t0).toBeLessThan(15_000) // not a benchmark: a stuck loop would take minutes
    const db = ws.db()
    expect(db.prepare("SELECT status FROM runs WHERE stage = 'train-cnn'").pluck().all()).toEqual(["interrupted"])
    db.close()
  }, 120_000)

  it("refuses a backend that is not installed, before running anything", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.pipe(["run", "--set", "train-cnn.backend=tensorflow"])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      `pipeline.yaml:${lineOf("train-cnn")}:5 stages.train-cnn: backend tensorflow is not available: @tensorflow/tfjs-node is not installed ` +
        "(npm install @tensorflow/tfjs-node on a machine that can download libtensorflow); available here: wasm, cpu\n" +
        "pipeline.yaml: 1 problem; nothing ran"
    )
    expect(ws.ranLog()).toEqual([])
  })
})
