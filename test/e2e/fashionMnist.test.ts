/**
 * download -> split -> augment on the real Fashion-MNIST files (Debian's dataset-fashion-mnist, which .ci/run
 * installs), through the built CLI: counts per class, determinism, caching, and damaged inputs.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { join, resolve } from "node:path"
import { gunzipSync, gzipSync } from "node:zlib"
import { afterEach, describe, expect, it } from "vitest"
import { statuses, summary, workspace, type Workspace } from "../support/cli.js"

const DATA = process.env["FASHION_MNIST_DIR"] ?? "/usr/share/datasets/fashion-mnist"
const FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
const PIPELINE = readFileSync(resolve(import.meta.dirname, "../../pipeline.yaml"), "utf8")
/** The data stages of the demo pipeline (training has its own tests). */
const DATA_STAGES = ["split", "augment"]

let ws: Workspace
afterEach(() => ws?.cleanup())

const outputs = (events: ReadonlyArray<Record<string, any>>) =>
  Object.fromEntries(events.filter((e) => e["event"] === "stage").map((e) => [e["stage"], e["output"] as string]))

const manifest = (w: Workspace, hash: string) => JSON.parse(readFileSync(w.artifact(hash)["manifest.json"]!, "utf8"))

describe("the data stages on the real files", () => {
  it("are present (CI installs dataset-fashion-mnist)", () => {
    for (const f of FILES) expect(existsSync(join(DATA, `${f}.gz`)), `${DATA}/${f}.gz`).toBe(true)
  })

  it("split the full training set 48,000 / 12,000, stratified, with the test set untouched", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["run", ...DATA_STAGES])
    expect(r.code).toBe(0)
    const out = outputs(r.events)
    const data = manifest(ws, out["download"]!)
    expect(data.splits.train.count).toBe(60000)
    expect(data.splits.test.count).toBe(10000)
    expect(data.splits.train.perClass).toEqual(Array(10).fill(6000))
    expect(data.classes[6]).toBe("Shirt")
    const split = manifest(ws, out["split"]!)
    expect(split.splits.train.perClass).toEqual(Array(10).fill(4800))
    expect(split.splits.val.perClass).toEqual(Array(10).fill(1200))
    expect(split.splits.test.perClass).toEqual(Array(10).fill(1000))
    const d = ws.artifact(out["download"]!)
    const s = ws.artifact(out["split"]!)
    // untouched: the very same blob
    expect(s["test-images.u8"]).toBe(d["test-images.u8"])
    expect(s["test-labels.u8"]).toBe(d["test-labels.u8"])
    expect(readFileSync(s["train-images.u8"]!).length).toBe(48000 * 784)
    const again = await ws.json(["run", ...DATA_STAGES])
    expect(summary(again.events)).toMatchObject({ ran: 0, cached: 3 })
  })

  it("with a limit: the first N per split, deterministic byte for byte, and only augment reruns for a new flip", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["run", ...DATA_STAGES, "--set", "download.limit=1000"])
    const out = outputs(r.events)
    const data = manifest(ws, out["download"]!)
    expect([data.splits.train.count, data.splits.test.count]).toEqual([1000, 1000])
    const trainLabels = readFileSync(ws.artifact(out["download"]!)["train-labels.u8"]!)
    const raw = gunzipSync(readFileSync(join(DATA, "train-labels-idx1-ubyte.gz")))
    expect(trainLabels.equals(raw.subarray(8, 8 + 1000))).toBe(true)
    const split = manifest(ws, out["split"]!)
    expect(split.splits.train.count + split.splits.val.count).toBe(1000)
    split.splits.train.perClass.forEach((n: number, c: number) => expect(n).toBe(Math.round(data.splits.train.perClass[c] * 0.8)))

    // A second store, from scratch: the same bytes.
    const other = await ws.json(["run", ...DATA_STAGES, "--set", "download.limit=1000", "--store", join(ws.dir, "other")])
    expect(outputs(other.events)).toEqual(out)
    // Another seed gives another split.
    const seeded = await ws.json(["run", ...DATA_STAGES, "--set", "download.limit=1000", "--set", "split.seed=1"])
    expect(statuses(seeded.events)).toEqual({ download: "cached", split: "ran", augment: "cached" })
    expect(outputs(seeded.events)["split"]).not.toBe(out["split"])

    const flip = await ws.json(["run", ...DATA_STAGES, "--set", "download.limit=1000", "--set", "augment.flip=0.3"])
    expect(statuses(flip.events)).toEqual({ download: "cached", split: "cached", augment: "ran" })
    expect(flip.events.find((e) => e["stage"] === "augment")).toMatchObject({ reason: "params changed: flip 0.5 -> 0.3" })
    const files = ws.artifact(outputs(flip.events)["augment"]!)
    expect(Object.keys(files).sort()).toEqual(["augmentation-steps.png", "policy.json", "previews.json", "samples-per-class.png"])
    expect(JSON.parse(readFileSync(files["policy.json"]!, "utf8"))).toMatchObject({ pad: 4, flip: 0.3, mean: 0.5, std: 0.5 })
    expect(readFileSync(files["samples-per-class.png"]!).subarray(1, 4).toString()).toBe("PNG")
  })

  it("do not depend on where the files were found", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const copy = join(ws.dir, "copy")
    mkdirSync(copy)
    for (const f of FILES) writeFileSync(join(copy, f), gunzipSync(readFileSync(join(DATA, `${f}.gz`)))) // raw, not gzipped
    const a = await ws.json(["run", "download", "--set", "download.limit=50"])
    const b = await ws.json(["run", "download", "--set", "download.limit=50", "--set", "download.dir=copy", "--force"])
    expect(b.events[0]).toMatchObject({ status: "ran", key: a.events[0]!["key"], output: a.events[0]!["output"] })
  })
})

describe("damaged or missing data files", () => {
  const copyData = (w: Workspace) => {
    const dir = join(w.dir, "data")
    mkdirSync(dir)
    for (const f of FILES) copyFileSync(join(DATA, `${f}.gz`), join(dir, `${f}.gz`))
    return dir
  }
  const expectNothingCached = (w: Workspace) => {
    const d = w.db()
    expect(d.prepare("SELECT status FROM runs").pluck().all()).toEqual(["failed"])
    expect(d.prepare("SELECT count(*) FROM artifacts").pluck().get()).toBe(0)
    d.close()
  }
  const runWith = (w: Workspace) => w.json(["run", "download", "--set", "download.dir=data"])

  it("a truncated gzip file", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const dir = copyData(ws)
    const p = join(dir, "train-labels-idx1-ubyte.gz")
    writeFileSync(p, readFileSync(p).subarray(0, 1000))
    const r = await runWith(ws)
    expect(r.code).toBe(1)
    expect(r.events[0]).toMatchObject({
      status: "failed",
      error: `${p}: not a valid gzip file (unexpected end of file); the file is damaged or incomplete: delete it and fetch it again`
    })
    expectNothingCached(ws)
  })

  it("a wrong magic number", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const dir = copyData(ws)
    const p = join(dir, "t10k-labels-idx1-ubyte.gz")
    const raw = gunzipSync(readFileSync(p))
    raw[3] = 3
    writeFileSync(p, gzipSync(raw))
    const r = await runWith(ws)
    expect(r.code).toBe(1)
    expect(r.events[0]!["error"]).toBe(
      `${p}: wrong magic number 0x00000803 (3 dimensions), expected 0x00000801 (1)`
    )
    expectNothingCached(ws)
  })

  it("content that does not match the published checksum", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const dir = copyData(ws)
    const p = join(dir, "t10k-labels-idx1-ubyte.gz")
    const raw = gunzipSync(readFileSync(p))
    raw[100] = (raw[100]! + 1) % 10
    writeFileSync(p, gzipSync(raw))
    const r = await runWith(ws)
    expect(r.code).toBe(1)
    expect(r.events[0]!["error"]).toMatch(
      new RegExp(
        `^${p}: checksum mismatch for t10k-labels-idx1-ubyte \\(decompressed\\): expected sha256 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34, got [0-9a-f]{64}; the file is not the published Fashion-MNIST data$`
      )
    )
    expectNothingCached(ws)
  })

  it("a directory that does not exist", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["run", "download", "--set", "download.dir=nowhere"])
    expect(r.code).toBe(1)
    expect(r.events[0]!["error"]).toBe(
      `params.dir ${join(ws.dir, "nowhere")}: no such directory; install Debian's package (apt-get install dataset-fashion-mnist), ` +
        "or set FASHION_MNIST_DIR or params.dir to a directory holding the four *-ubyte.gz files, or run where the official URL is reachable"
    )
    expectNothingCached(ws)
  })
})

describe("downloading from a URL", () => {
  const serve = (handler: (name: string) => Buffer | undefined) =>
    new Promise<{ server: Server; url: string }>((done) => {
      const server = createServer((req, res) => {
        const body = handler((req.url ?? "").slice(1))
        if (!body) return void res.writeHead(404).end("not found")
        res.writeHead(200, { "content-length": body.length }).end(body)
      }).listen(0, "127.0.0.1", () => done({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }))
    })

  it("fetches, verifies, and keeps the files for next time, with the same output as a local copy", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const served: Array<string> = []
    const { server, url } = await serve((name) => {
      served.push(name)
      return existsSync(join(DATA, name)) ? readFileSync(join(DATA, name)) : undefined
    })
    try {
      const cache = join(ws.dir, "downloads")
      const local = await ws.json(["run", "download", "--set", "download.limit=20", "--store", join(ws.dir, "s1")])
      const r = await ws.pipe(
        ["run", "download", "-v", "--json", "--set", "download.limit=20", "--set", "download.source=url", "--set", `download.url=${url}`, "--store", join(ws.dir, "s2")],
        { PIPE_DOWNLOAD_DIR: cache }
      )
      expect(r.code).toBe(0)
      expect(r.stderr).toContain("downloading train-images-idx3-ubyte.gz: 26.4 of 26.4 MB")
      expect(served.sort()).toEqual(FILES.map((f) => `${f}.gz`).sort())
      expect(readdirSync(cache).sort()).toEqual(FILES.map((f) => `${f}.gz`).sort())
      expect(JSON.parse(r.stdout.split("\n")[0]!).output).toBe(local.events[0]!["output"])
    } finally {
      server.close()
    }
  })

  it("reports a failed download and leaves no partial file", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const { server, url } = await serve(() => undefined)
    try {
      const cache = join(ws.dir, "downloads")
      const r = await ws.pipe(["run", "download", "--json", "--set", "download.source=url", "--set", `download.url=${url}`], {
        PIPE_DOWNLOAD_DIR: cache
      })
      expect(r.code).toBe(1)
      expect(JSON.parse(r.stdout.split("\n")[0]!).error).toBe(
        `no Fashion-MNIST files found. Tried: ${url}/train-images-idx3-ubyte.gz: HTTP 404 Not Found. Fix: install Debian's package ` +
          "(apt-get install dataset-fashion-mnist), or set FASHION_MNIST_DIR or params.dir to a directory holding the four *-ubyte.gz files, or run where the official URL is reachable"
      )
      expect(readdirSync(cache)).toEqual([])
    } finally {
      server.close()
    }
  })
})
