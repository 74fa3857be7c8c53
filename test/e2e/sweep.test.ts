/** `pipe sweep` through the built CLI: shared stages run once, reruns are cached, grids grow, points fail alone. */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { afterEach, describe, expect, it } from "vitest"
import { summary, workspace, type Workspace } from "../support/cli.js"

let ws: Workspace
afterEach(() => ws?.cleanup())

const PIPELINE = `
name: grid
stages:
  prep:
    kind: command
    cmd: [sh, -c, 'echo prep >> ran.log; echo data > $PIPE_OUT/d']
  train:
    kind: command
    needs: [prep]
    cmd: [sh, -c, '[ "\${params.lr}" != "0.5" ] || exit 3; [ ! -f slow ] || sleep 1; echo "train \${params.lr} \${params.model}" >> ran.log; echo "\${params.lr}\${params.model}" > $PIPE_OUT/m']
    params: { lr: 0.1, model: a }
  score:
    kind: command
    needs: [train]
    cmd: [sh, -c, 'echo score >> ran.log; wc -c < $PIPE_IN_TRAIN/m > $PIPE_OUT/s']
sweeps:
  small:
    description: two rates, one model
    grid: { train.lr: [0.1, 0.2], model: a }
`

const trains = (w: Workspace) => w.ranLog().filter((l) => l.startsWith("train")).sort()
const points = (events: ReadonlyArray<Record<string, any>>) => events.filter((e) => e["event"] === "point")

describe("pipe sweep", () => {
  it("runs a 3x2 grid with the shared stages once, then nothing, then only new points", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["sweep", "lr=0.1,0.2,0.3", "train.model=a,b"])
    expect(r.code).toBe(0)
    expect(points(r.events).map((p) => p["params"])).toEqual([
      { "train.lr": 0.1, "train.model": "a" },
      { "train.lr": 0.1, "train.model": "b" },
      { "train.lr": 0.2, "train.model": "a" },
      { "train.lr": 0.2, "train.model": "b" },
      { "train.lr": 0.3, "train.model": "a" },
      { "train.lr": 0.3, "train.model": "b" }
    ])
    expect(ws.ranLog().filter((l) => l === "prep")).toHaveLength(1)
    expect(trains(ws)).toHaveLength(6)
    // prep once, then train and score per point
    expect(summary(r.events)).toMatchObject({ ran: 1 + 6 + 6, failed: 0, skipped: 0, points: 6 })
    // each stage key is reported once
    const keys = r.events.filter((e) => e["event"] === "stage").map((e) => e["key"])
    expect(new Set(keys).size).toBe(keys.length)

    const again = await ws.json(["sweep", "lr=0.1,0.2,0.3", "train.model=a,b"])
    expect(summary(again.events)).toMatchObject({ ran: 0, failed: 0 })
    expect(trains(ws)).toHaveLength(6)

    const grown = await ws.json(["sweep", "lr=0.1,0.2,0.3,0.4", "train.model=a,b"])
    expect(summary(grown.events)).toMatchObject({ ran: 2 + 2, failed: 0, points: 8 })
    expect(trains(ws).filter((t) => t.startsWith("train 0.4"))).toEqual(["train 0.4 a", "train 0.4 b"])

    // the sweeps are recorded, with every point's runs
    const d = ws.db()
    expect(d.prepare("SELECT id, command FROM sweeps ORDER BY id").all()).toEqual([
      { id: 1, command: "pipe sweep lr=0.1,0.2,0.3 train.model=a,b" },
      { id: 2, command: "pipe sweep lr=0.1,0.2,0.3 train.model=a,b" },
      { id: 3, command: "pipe sweep lr=0.1,0.2,0.3,0.4 train.model=a,b" }
    ])
    const rows = d.prepare("SELECT point, params, status, runs FROM sweep_points WHERE sweep_id = 3 ORDER BY point").all() as Array<Record<string, string>>
    d.close()
    expect(rows).toHaveLength(8)
    expect(JSON.parse(rows[7]!["params"]!)).toEqual({ "train.lr": 0.4, "train.model": "b" })
    expect(Object.keys(JSON.parse(rows[7]!["runs"]!))).toEqual(["prep", "train", "score"])
  })

  it("reports a failing point at once and finishes the others, exiting 1", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["sweep", "lr=0.1,0.5,0.3"])
    expect(r.code).toBe(1)
    expect(points(r.events).map((p) => [p["params"]["train.lr"], p["status"]])).toEqual([
      [0.1, "ok"],
      [0.5, "failed"],
      [0.3, "ok"]
    ])
    expect(r.events.find((e) => e["event"] === "stage" && e["status"] === "failed")).toMatchObject({
      stage: "train",
      point: 2,
      error: "command exited with code 3"
    })
    expect(summary(r.events)).toMatchObject({ failed: 1, skipped: 1 })
  })

  it("resumes after an interruption: finished points are cache hits", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE, slow: "" })
    const child = ws.spawn(["sweep", "lr=0.1,0.2,0.3,0.4"])
    while (trains(ws).length < 2) await sleep(50)
    child.kill("SIGINT")
    const first = await child
    expect(first.exitCode).toBe(130)
    const d = ws.db()
    const done = d.prepare("SELECT count(*) FROM runs WHERE stage = 'train' AND status = 'ok'").pluck().get() as number
    d.close()
    expect(done).toBeGreaterThanOrEqual(1)
    expect(done).toBeLessThan(4)
    const r = await ws.json(["sweep", "lr=0.1,0.2,0.3,0.4"])
    expect(r.code).toBe(0)
    expect(new Set(trains(ws)).size).toBe(4)
    // only the points that had not finished ran
    const ran = r.events.filter((e) => e["event"] === "stage" && e["stage"] === "train" && e["status"] === "ran")
    expect(ran).toHaveLength(4 - done)
  }, 60_000)

  it("runs points in parallel with --jobs, still running shared stages once", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["sweep", "lr=0.1,0.2,0.3,0.4", "--jobs", "3"])
    expect(r.code).toBe(0)
    expect(ws.ranLog().filter((l) => l === "prep")).toHaveLength(1)
    expect(trains(ws)).toHaveLength(4)
    expect(summary(r.events)).toMatchObject({ ran: 1 + 4 + 4, failed: 0 })
  })

  it("runs a sweep declared in the pipeline file, and names keys clearly when they are wrong", async () => {
    ws = workspace({
      "pipeline.yaml": PIPELINE.replace("  score:\n", "  other:\n    kind: command\n    cmd: [echo]\n    params: { lr: 1 }\n  score:\n")
    })
    const r = await ws.json(["sweep", "small"])
    expect(r.code).toBe(0)
    expect(points(r.events).map((p) => p["params"])).toEqual([
      { "train.lr": 0.1, "train.model": "a" },
      { "train.lr": 0.2, "train.model": "a" }
    ])
    const ambiguous = await ws.pipe(["sweep", "lr=1,2"])
    expect(ambiguous.code).toBe(2)
    expect(ambiguous.stderr).toBe("pipe: lr: several stages have this param; name one: train.lr, other.lr")
    const unknown = await ws.pipe(["sweep", "modl=a"])
    expect(unknown.stderr).toBe("pipe: modl: no stage has this param (did you mean 'model'?); params: train.lr, train.model, other.lr")
    const name = await ws.pipe(["sweep", "smal"])
    expect(name.stderr).toBe("pipe: no sweep named 'smal' (did you mean 'small'?) in pipeline.yaml; sweeps: small")
    const range = await ws.pipe(["sweep", "train.lr=range(1,1)"])
    expect(range.stderr).toBe("pipe: train.lr=range(1,1): range(1,1): the range is empty")
    expect(existsSync(join(ws.dir, "ran.log"))).toBe(true)
  })
})

describe("pipe sweep on the ML stages", () => {
  const ML = `
name: ml
stages:
  download:
    kind: download
    params: { limit: 3000 }
  split:
    kind: split
    needs: [download]
  augment:
    kind: augment
    needs: [download]
    params: { pad: 0, flip: 0 }
  train:
    kind: train
    needs: [split, augment]
    params: { model: mlp, epochs: 1, batch_size: 64, backend: cpu }
  evaluate:
    kind: evaluate
    needs: [train, split]
    params: { backend: cpu }
`

  it("trains each point over one shared download, split and augment, reproducibly on cpu", async () => {
    ws = workspace({ "pipeline.yaml": ML })
    const r = await ws.json(["sweep", "train.lr=1e-3,3e-3", "train.model=mlp", "--metric", "evaluate.test_accuracy"])
    expect(r.code).toBe(0)
    const ran = r.events.filter((e) => e["event"] === "stage" && e["status"] === "ran").map((e) => e["stage"])
    expect(ran.sort()).toEqual(["augment", "download", "evaluate", "evaluate", "split", "train", "train"])
    const pts = points(r.events)
    expect(pts.map((p) => p["params"])).toEqual([
      { "train.lr": 0.001, "train.model": "mlp" },
      { "train.lr": 0.003, "train.model": "mlp" }
    ])
    for (const p of pts) expect(p["metric"]).toBeGreaterThan(0.5)
    for (const p of pts) expect(p["metric_name"]).toBe("evaluate.test_accuracy")
    // the same sweep on an empty store gives the same figures
    const fresh = await ws.json(["sweep", "train.lr=1e-3,3e-3", "train.model=mlp", "--metric", "test_accuracy", "--store", join(ws.dir, "other")])
    expect(points(fresh.events).map((p) => p["metric"])).toEqual(pts.map((p) => p["metric"]))
    // a param a kind has without a default (dropout) can be swept too, and is listed when a key is wrong
    const optional = await ws.pipe(["sweep", "train.dropout=0,0.2", "--dry-run"])
    expect(optional.code).toBe(0)
    expect(optional.stdout).toContain("train.dropout=0.2")
    const typo = await ws.pipe(["sweep", "train.dropuot=0.2", "--dry-run"])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain("stage train has no param 'dropuot' (did you mean 'dropout'?)")
  }, 120_000)
})
