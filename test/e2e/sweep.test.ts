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

describe("pipe sweep --search random", () => {
  const SAMPLED = [
    "sweep", "--search", "random", "--trials", "6", "--seed", "7",
    "lr=loguniform:1e-4:1e-2", "train.model=choice:a,b"
  ]

  it("draws the same trials for the same seed, runs the shared stage once and a rerun not at all, and records the search", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(SAMPLED)
    expect(r.code, r.stderr).toBe(0)
    const drawn = points(r.events).map((p) => p["params"])
    expect(drawn).toHaveLength(6)
    for (const p of drawn) {
      expect(p["train.lr"]).toBeGreaterThanOrEqual(1e-4)
      expect(p["train.lr"]).toBeLessThanOrEqual(1e-2)
      expect(["a", "b"]).toContain(p["train.model"])
    }
    expect(new Set(drawn.map((p) => p["train.lr"])).size).toBe(6)
    expect(ws.ranLog().filter((l) => l === "prep")).toHaveLength(1)
    // each trial trained with its own values, as drawn
    expect(trains(ws)).toEqual(drawn.map((p) => `train ${p["train.lr"]} ${p["train.model"]}`).sort())

    const again = await ws.json(SAMPLED)
    expect(points(again.events).map((p) => p["params"])).toEqual(drawn)
    expect(summary(again.events)).toMatchObject({ ran: 0, failed: 0, points: 6 })
    const other = await ws.json(["sweep", "--search", "random", "--trials", "6", "--seed", "8", "lr=loguniform:1e-4:1e-2", "train.model=choice:a,b", "--dry-run"])
    expect(points(other.events).map((p) => p["params"])).not.toEqual(drawn)

    const listed = await ws.json(["sweeps"])
    expect(listed.events[0]).toMatchObject({
      command: "pipe sweep --search random --trials 6 --seed 7 lr=loguniform:1e-4:1e-2 train.model=choice:a,b",
      grid: { "train.lr": "loguniform:0.0001:0.01", "train.model": ["a", "b"] },
      search: "random",
      trials: 6,
      seed: 7,
      points: 6,
      recorded: 6
    })
    const text = await ws.pipe(["sweep", "--search", "random", "--trials", "3", "lr=uniform:0.1:0.2"])
    expect(text.stdout).toMatch(/^sweep \d+: 3 trials drawn with seed 0 over train\.lr \(jobs 1\)$/m)
  })

  it("runs a trial drawn twice once, and a random sweep declared in the pipeline file", async () => {
    ws = workspace({
      "pipeline.yaml": `${PIPELINE}  picked:
    search: random
    trials: 5
    seed: 3
    grid: { train.lr: "uniform:0.1:0.3", model: [a, b] }
`
    })
    const r = await ws.json(["sweep", "picked"])
    expect(r.code, r.stderr).toBe(0)
    expect(points(r.events)).toHaveLength(5)
    expect(summary(r.events)).toMatchObject({ points: 5 })
    const twice = await ws.pipe(["sweep", "--search", "random", "--trials", "8", "model=a,b"])
    expect(twice.code).toBe(0)
    expect(twice.stdout).toMatch(/^sweep \d+: 2 trials drawn with seed 0 over train\.model \(8 drawn; 6 repeated an earlier trial\)/m)
  })

  it("refuses bad searches with exit 2, naming the argument or the pipeline location, and runs nothing", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const refused = async (args: ReadonlyArray<string>, message: string | RegExp) => {
      const r = await ws.pipe(args)
      expect(r.code, r.stderr).toBe(2)
      if (typeof message === "string") expect(r.stderr).toBe(message)
      else expect(r.stderr).toMatch(message)
    }
    await refused(["sweep", "--search", "random", "--trials", "4", "lr=logunifrom:1e-4:1e-2"],
      "pipe: lr=logunifrom:1e-4:1e-2: unknown distribution 'logunifrom' (did you mean 'loguniform'?); distributions: uniform:LOW:HIGH, loguniform:LOW:HIGH, int:LOW:HIGH or choice:V1,V2,... (a text value with a colon: quote it)")
    await refused(["sweep", "--search", "random", "--trials", "4", "lr=uniform:0.3:0.1"], "pipe: lr=uniform:0.3:0.1: uniform:0.3:0.1: the range is empty (LOW must be below HIGH)")
    await refused(["sweep", "--search", "random", "--trials", "4", "lr=loguniform:0:1"], "pipe: lr=loguniform:0:1: loguniform:0:1: a log range must lie above 0 (LOW > 0), e.g. loguniform:1e-5:1e-1")
    await refused(["sweep", "--search", "random", "--trials", "0", "lr=uniform:0.1:0.3"], /--trials must be at least 1, got 0/)
    await refused(["sweep", "--search", "random", "lr=uniform:0.1:0.3"], "pipe: --search random draws --trials N trials: give --trials (e.g. --trials 24)")
    await refused(["sweep", "lr=uniform:0.1:0.3"], "pipe: lr=uniform:0.1:0.3: a distribution is drawn from, not listed; add --search random --trials N (or give values: lr=V1,V2,...)")
    await refused(["sweep", "--trials", "3", "lr=0.1,0.2"], "pipe: --trials is for --search random (or asha); a grid runs every combination")
    await refused(["sweep", "--search", "random", "--trials", "2000", "lr=uniform:0.1:0.3"], "pipe: --trials 2000 is more than the cap of 1000 points; raise it with --max-points 2000")
    await refused(["sweep", "--search", "random", "--trials", "3", "lrr=uniform:0.1:0.3"], /^pipe: lrr: no stage has this param \(did you mean 'lr'\?\)/)
    expect(existsSync(join(ws.dir, "ran.log"))).toBe(false)

    const declared = (sweep: string) => `${PIPELINE}  bad:\n${sweep}`
    // the line of "  bad:" in the file, 1-based
    const bad = declared("").split("\n").indexOf("  bad:") + 1
    const at = async (yaml: string, message: (line: number) => RegExp) => {
      ws.write("pipeline.yaml", yaml)
      const r = await ws.pipe(["sweep", "small"])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toMatch(message(bad))
    }
    await at(declared('    grid: { train.lr: "loguniform:1e-4:1e-2" }\n'), (l) =>
      new RegExp(`^pipeline\\.yaml:${l + 1}:23 sweeps\\.bad\\.grid\\.train\\.lr: loguniform:1e-4:1e-2 is a distribution to draw from, not a list of values: add search: random \\(or asha\\) and trials: N to sweeps\\.bad, or list values$`, "m"))
    await at(declared('    search: random\n    trials: 4\n    grid: { train.lr: "uniform:1:1" }\n'), (l) =>
      new RegExp(`^pipeline\\.yaml:${l + 3}:23 sweeps\\.bad\\.grid\\.train\\.lr: uniform:1:1: the range is empty \\(LOW must be below HIGH\\)$`, "m"))
    await at(declared('    search: random\n    grid: { train.lr: "uniform:0:1" }\n'), (l) =>
      // a map's problem is shown at its first line
      new RegExp(`^pipeline\\.yaml:${l + 1}:5 sweeps\\.bad: search: random draws trials: add trials: N \\(e\\.g\\. trials: 24\\)$`, "m"))
    await at(declared("    trials: 3\n    grid: { train.lr: [1] }\n"), (l) =>
      new RegExp(`^pipeline\\.yaml:${l + 1}:5 sweeps\\.bad\\.trials: trials and seed are for search: random \\(or asha\\); a grid runs every combination$`, "m"))
    await at(declared("    search: rndom\n    trials: 3\n    grid: { train.lr: [1] }\n"), (l) => new RegExp(`^pipeline\\.yaml:${l + 1}:\\d+ sweeps\\.bad\\.search: `, "m"))
    expect(existsSync(join(ws.dir, "ran.log"))).toBe(false)
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
