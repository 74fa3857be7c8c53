/**
 * History that lasts, through the built CLI: gc keeps what sweeps used unless told to drop them, pinned runs
 * stay, --dry-run lists what would go, `pipe sweeps` lists sweeps with their best point, and `pipe report`
 * after gc either works or names what is gone. Small command pipelines, and a tiny MLP sweep for the report.
 */
import Database from "better-sqlite3"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { summary, workspace, type Workspace } from "../support/cli.js"

let ws: Workspace
afterEach(() => ws?.cleanup())

const GRID = `
name: grid
stages:
  prep:
    kind: command
    cmd: [sh, -c, 'echo data > $PIPE_OUT/d']
  train:
    kind: command
    needs: [prep]
    cmd: [sh, -c, 'echo "\${params.lr}" > $PIPE_OUT/m']
    params: { lr: 0.1 }
  score:
    kind: command
    needs: [train]
    cmd: [sh, -c, 'cat $PIPE_IN_TRAIN/m > $PIPE_OUT/s']
`

const runIds = (w: Workspace): Array<number> => {
  const db = w.db()
  try {
    return (db.prepare("SELECT id FROM runs ORDER BY id").all() as Array<{ id: number }>).map((r) => r.id)
  } finally {
    db.close()
  }
}

/**
 * A sweep over train.lr = 0.1, 0.2, 0.3 (runs #1 prep, #2/#3 train/score of 0.1, #4/#5 of 0.2, #6/#7 of 0.3),
 * then `pipe run` with the pipeline's own lr 0.1, so each stage's head is point 1's run. Outside the sweep,
 * gc would keep #1-#3 (what the pipeline uses) and #6-#7 (each stage's latest): #4 and #5 are only the sweep's.
 */
const sweptGrid = async (): Promise<Workspace> => {
  const w = workspace({ "pipeline.yaml": GRID })
  const s = await w.json(["sweep", "train.lr=0.1,0.2,0.3"])
  expect(s.code, s.stderr).toBe(0)
  expect(summary(s.events)).toMatchObject({ sweep: 1, ran: 7 })
  expect(summary((await w.json(["run"])).events)).toMatchObject({ ran: 0 })
  expect(runIds(w)).toEqual([1, 2, 3, 4, 5, 6, 7])
  return w
}

describe("gc and sweeps", () => {
  it("gc keeps every run a sweep used by default, and pipe sweeps lists the sweep", async () => {
    ws = await sweptGrid()
    const gc = await ws.json(["gc"])
    expect(gc.code, gc.stderr).toBe(0)
    expect(gc.events[0]).toMatchObject({ event: "gc", removedRuns: 0, runs: [], sweeps: [], keptRuns: 7 })
    expect(gc.events[0]!["keptForSweeps"]).toBe(7)
    expect(runIds(ws)).toEqual([1, 2, 3, 4, 5, 6, 7])
    const runs = await ws.json(["runs", "--sweep", "1"])
    expect(runs.events.map((e) => e["id"])).toEqual([7, 6, 5, 4, 3, 2, 1])

    const sweeps = await ws.json(["sweeps"])
    expect(sweeps.code, sweeps.stderr).toBe(0)
    expect(sweeps.events).toHaveLength(1)
    expect(sweeps.events[0]).toMatchObject({
      event: "sweep",
      id: 1,
      pipeline: "grid",
      command: "pipe sweep train.lr=0.1,0.2,0.3",
      grid: { "train.lr": [0.1, 0.2, 0.3] },
      points: 3,
      recorded: 3,
      statuses: { ok: 3 },
      missing_runs: 0
    })
    const text = await ws.pipe(["sweeps"])
    expect(text.stdout).toMatch(/^sweep\s+created\s+points\s+status/m)
    expect(text.stdout).toMatch(/^1\s+\S+ \S+\s+3\s+3 ok\s.*pipe sweep train\.lr=0\.1,0\.2,0\.3$/m)
  }, 60_000)

  it("gc --dry-run lists the runs and sweeps that would go and removes nothing; --drop-sweeps removes them", async () => {
    ws = await sweptGrid()
    const blobsBefore = (await ws.json(["verify"])).events[0]!["blobs"]
    const dry = await ws.json(["gc", "--drop-sweeps", "--dry-run"])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.events[0]).toMatchObject({ dryRun: true, removedRuns: 2, removedArtifacts: 2 })
    expect(dry.events[0]!["runs"].map((r: any) => [r.id, r.stage, r.status])).toEqual([
      [4, "train", "ok"],
      [5, "score", "ok"]
    ])
    expect(dry.events[0]!["artifacts"]).toHaveLength(2)
    expect(dry.events[0]!["artifactBytes"]).toBe(8)
    expect(dry.events[0]!["sweeps"]).toEqual([{ id: 1, command: "pipe sweep train.lr=0.1,0.2,0.3", createdAt: expect.any(Number) }])
    const text = await ws.pipe(["gc", "--drop-sweeps", "--dry-run"])
    expect(text.stdout).toMatch(/^would remove 2 runs:$/m)
    expect(text.stdout).toMatch(/^\s+#4\s+train\s+command\s+ok\s/m)
    expect(text.stdout).toMatch(/^\s+#5\s+score\s+command\s+ok\s/m)
    expect(text.stdout).toMatch(/^would drop 1 sweep:$/m)
    // train's m and score's s hold the same bytes ("0.2\n"): one blob.
    expect(text.stdout).toMatch(/^would remove 2 runs, 2 artifacts \(8 B\), 1 blob \(4 B\); kept 5 runs$/m)
    // Nothing went.
    expect(runIds(ws)).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect((await ws.json(["verify"])).events[0]!["blobs"]).toBe(blobsBefore)
    expect((await ws.json(["sweeps"])).events).toHaveLength(1)

    const gc = await ws.json(["gc", "--drop-sweeps"])
    expect(gc.events[0]).toMatchObject({ dryRun: false, removedRuns: 2, removedArtifacts: 2, removedBlobs: 1 })
    expect(runIds(ws)).toEqual([1, 2, 3, 6, 7])
    expect((await ws.json(["sweeps"])).events).toEqual([])
    expect((await ws.pipe(["sweeps"])).stdout).toMatch(/^no sweeps in this store/)
    expect((await ws.pipe(["verify"])).code).toBe(0)
    // A new sweep gets a new number, not the dropped one's.
    expect(summary((await ws.json(["sweep", "train.lr=0.2,0.4"])).events)).toMatchObject({ sweep: 2 })
  }, 60_000)

  it("--older-than drops only the sweeps created before then; a bad age is refused", async () => {
    ws = await sweptGrid()
    expect(summary((await ws.json(["sweep", "train.lr=0.4,0.5"])).events)).toMatchObject({ sweep: 2, ran: 4 })
    // Sweep 1 was made 40 days ago.
    const db = new Database(join(ws.dir, ".pipe", "pipe.db"))
    db.prepare("UPDATE sweeps SET created_at = ? WHERE id = 1").run(Date.now() - 40 * 86_400_000)
    db.close()
    const bad = await ws.pipe(["gc", "--older-than", "30 days"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--older-than takes an age such as 30d")
    const gc = await ws.json(["gc", "--older-than", "30d"])
    expect(gc.code, gc.stderr).toBe(0)
    expect(gc.events[0]!["sweeps"].map((s: any) => s.id)).toEqual([1])
    // #4/#5 (lr 0.2) were sweep 1's only; #6/#7 (lr 0.3) are no longer the latest either: sweep 2 ran after.
    expect(gc.events[0]!["runs"].map((r: any) => r.id)).toEqual([4, 5, 6, 7])
    expect((await ws.json(["sweeps"])).events.map((e) => e["id"])).toEqual([2])
    expect((await ws.json(["runs", "--sweep", "2"])).events).toHaveLength(5)
  }, 60_000)

  it("pin keeps a run that is no stage's head through gc, pipe runs shows it, and unpin lets it go", async () => {
    ws = await sweptGrid()
    const pin = await ws.json(["pin", "#4", "--tag", "good-lr"])
    expect(pin.code, pin.stderr).toBe(0)
    expect(pin.events[0]).toMatchObject({ event: "pin", run: 4, stage: "train", pinned: true, tags: ["good-lr"] })
    // A stage id names its head: point 1's run, after pipe run.
    expect((await ws.json(["pin", "score"])).events[0]).toMatchObject({ run: 3, tags: [] })

    const runs = await ws.json(["runs", "--stage", "train"])
    expect(runs.events.map((e) => [e["id"], e["pinned"], e["tags"]])).toEqual([
      [6, false, []],
      [4, true, ["good-lr"]],
      [2, false, []]
    ])
    const table = (await ws.pipe(["runs", "--stage", "train"])).stdout
    expect(table).toMatch(/^run\s+stage\s+status\s+pin\s+started/m)
    expect(table).toMatch(/^#4\s+train\s+ok\s+good-lr\s/m)
    expect(table).toMatch(/^#6\s+train\s+ok\s{3,}\d{4}-/m)
    // Only the pinned runs, or those with one tag; a tag names its run wherever a run is asked for.
    expect((await ws.json(["runs", "--pinned"])).events.map((e) => e["id"])).toEqual([4, 3])
    expect((await ws.json(["runs", "--tag", "good-lr"])).events.map((e) => e["id"])).toEqual([4])
    expect((await ws.json(["show", "good-lr"])).events[0]).toMatchObject({ id: 4, stage: "train" })

    const gc = await ws.json(["gc", "--drop-sweeps"])
    expect(gc.events[0]).toMatchObject({ removedRuns: 1, keptPinned: 2 })
    expect(runIds(ws)).toEqual([1, 2, 3, 4, 6, 7])
    const show = await ws.pipe(["show", "#4"])
    expect(show.code).toBe(0)
    expect(show.stdout).toMatch(/pinned\s+since .*tags good-lr/)

    const unpin = await ws.json(["unpin", "#4"])
    expect(unpin.events[0]).toMatchObject({ event: "unpin", run: 4, removed: 1, pinned: false })
    expect((await ws.pipe(["unpin", "#4"])).stdout).toContain("run #4 (train) was not pinned")
    const after = await ws.json(["gc"])
    expect(after.events[0]!["runs"].map((r: any) => r.id)).toEqual([4])
    expect(runIds(ws)).toEqual([1, 2, 3, 6, 7])
  }, 60_000)
})

// The MLP branch of the shipped pipeline, with an analysis small enough for a test.
const MLP = `
name: fashion-mnist
stages:
  download:
    kind: download
  split:
    kind: split
    needs: [download]
    params: { ratio: 0.8, seed: 0 }
  plain:
    kind: augment
    needs: [download]
    params: { pad: 0, flip: 0, mean: 0, std: 1 }
  train-mlp:
    kind: train
    needs: [split, plain]
    params: { model: mlp, epochs: 30, batch_size: 32, lr: 0.001 }
  evaluate-mlp:
    kind: evaluate
    needs: [train-mlp, split]
  analyze:
    kind: analyze
    needs: [evaluate-mlp, train-mlp, split, plain]
    params: { pca_points: 200, tsne_points: 100, tsne_iterations: 100, gallery_pairs: 1, gallery_images: 4 }
`
const SMALL = ["--set", "download.limit=500", "--set", "train-mlp.epochs=1"]
const SWEEP = ["sweep", "train-mlp.lr=0.002,0.004", "--metric", "evaluate-mlp.test_accuracy", ...SMALL]

describe("pipe report after gc", () => {
  it("a sweep's report still builds after gc, and pipe sweeps names its best point", async () => {
    ws = workspace({ "pipeline.yaml": MLP })
    const s = await ws.json(SWEEP)
    expect(s.code, s.stderr).toBe(0)
    const metrics = s.events.filter((e) => e["event"] === "point").map((e) => e["metric"] as number)
    expect(metrics).toHaveLength(2)
    const gc = await ws.json(["gc", ...SMALL])
    expect(gc.code, gc.stderr).toBe(0)
    expect(gc.events[0]).toMatchObject({ removedRuns: 0 })

    const sweeps = await ws.json(["sweeps"])
    const best = metrics[0]! >= metrics[1]! ? 1 : 2
    expect(sweeps.events[0]).toMatchObject({
      id: 1,
      metric: "evaluate-mlp.test_accuracy",
      points: 2,
      statuses: { ok: 2 },
      best: { point: best, params: { "train-mlp.lr": best === 1 ? 0.002 : 0.004 }, metric: Math.max(...metrics) }
    })

    const r = await ws.json(["report", "--sweep", "1", "-o", join(ws.dir, "rep"), ...SMALL])
    expect(r.code, r.stderr).toBe(0)
    expect(r.events[0]!["runs"].map((x: any) => x.label)).toEqual(["train-mlp.lr=0.002", "train-mlp.lr=0.004"])
    expect(readFileSync(join(ws.dir, "rep", "summary.md"), "utf8")).toContain("train-mlp.lr=0.004")
  }, 120_000)

  it("a report whose runs are gone says what is missing and how to get it back, exit 3", async () => {
    ws = workspace({ "pipeline.yaml": MLP })
    const s = await ws.json(SWEEP)
    expect(s.code, s.stderr).toBe(0)
    const evaluations = (await ws.json(["runs", "--sweep", "1", "--stage", "evaluate-mlp", "--sort", "id"])).events.map((e) => e["id"] as number)
    expect(evaluations).toHaveLength(2)
    // A store gc'd by a pipe that did not keep sweeps: point 1's evaluation is gone, its sweep record stays.
    const gone = evaluations[0]!
    const db = new Database(join(ws.dir, ".pipe", "pipe.db"))
    db.exec(`DELETE FROM edges WHERE run_id = ${gone}; DELETE FROM sweep_point_runs WHERE run_id = ${gone}; DELETE FROM runs WHERE id = ${gone}`)
    db.close()
    const partial = await ws.pipe(["report", "--sweep", "1", "-o", join(ws.dir, "rep"), ...SMALL])
    expect(partial.code).toBe(3)
    expect(partial.stderr).not.toContain("TypeError")
    expect(partial.stderr).toContain(`#${gone} evaluate-mlp (point 1)`)
    expect(partial.stderr).toContain("pipe sweep train-mlp.lr=0.002,0.004")
    expect((await ws.json(["sweeps"])).events[0]).toMatchObject({ missing_runs: 1 })

    const run = await ws.pipe(["report", `#${gone}`, "-o", join(ws.dir, "rep"), ...SMALL])
    expect(run.code).toBe(3)
    expect(run.stderr).toContain(`run #${gone} is no longer in the store: pipe gc removed it`)

    expect((await ws.json(["gc", "--drop-sweeps", ...SMALL])).events[0]!["sweeps"]).toHaveLength(1)
    const dropped = await ws.json(["report", "--sweep", "1", "-o", join(ws.dir, "rep"), ...SMALL])
    expect(dropped.code).toBe(3)
    expect(dropped.events[0]).toMatchObject({ event: "error", code: 3, error: "StoreError" })
    expect(dropped.events[0]!["message"]).toMatch(/^sweep 1 \(.*\) was dropped by pipe gc on .*: .*pipe sweep train-mlp\.lr=0\.002,0\.004$/)
  }, 120_000)
})
