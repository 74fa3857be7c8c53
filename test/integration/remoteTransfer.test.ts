/**
 * Runs between a real store and a directory remote (cache/remoteTransfer.ts): pushed once with their blobs and
 * log, received whole into another store, and refused when the remote's record or blobs do not hold together.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { ingest } from "../../artifacts/blobs.js"
import { makeManifest } from "../../artifacts/manifest.js"
import { openRemote, type Remote } from "../../artifacts/remote.js"
import { cacheKey, KEY_VERSION, type KeyRecord } from "../../cache/fingerprint.js"
import { pullRun, pushRuns, readRemoteRun, remoteRunPath, type RemoteRun } from "../../cache/remoteTransfer.js"
import { openStore, type StoreApi } from "../../cache/store.js"

let dir: string
let a: StoreApi
let b: StoreApi
let remote: Remote
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "pipe-rtransfer-"))
  a = openStore(join(dir, "a"))
  b = openStore(join(dir, "b"))
  remote = await openRemote(join(dir, "remote"), { create: true })
})
afterEach(() => {
  a.close()
  b.close()
  remote.close()
  rmSync(dir, { recursive: true, force: true })
})

/** One successful run in store `a` whose output holds `files`; its log says hello. */
const makeRun = (stage: string, files: Record<string, string>, inputs: Record<string, string> = {}) => {
  const record: KeyRecord = { v: KEY_VERSION, kind: "command", kindVersion: 1, config: { stage }, params: {}, deps: {}, inputs, engine: null }
  const key = cacheKey(record)
  const { id, logPath } = a.records.begin({ key, pipeline: "p", stage, kind: "command", reason: "test", record }, join(a.root, "logs"))
  writeFileSync(logPath, `hello from ${stage}\n`)
  const out = join(dir, `out-${stage}`)
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(out, name, ".."), { recursive: true })
    writeFileSync(join(out, name), text)
  }
  const { manifest, blobs } = ingest(a.root, out)
  a.records.succeed(id, "p", stage, { type: "dir", manifest, blobs, inputs })
  return { id, key, output: manifest.hash }
}

describe("runs through a directory remote", () => {
  it("push sends blobs, log and record once; pull receives the run whole", async () => {
    const first = makeRun("first", { "x.txt": "x", "sub/y.txt": "y" })
    const second = makeRun("second", { "z.txt": "x" }, { first: first.output })
    const report = await pushRuns(a, remote, [first.id, second.id])
    expect(report).toMatchObject({ blobs: 2, bytes: 2, present: [] })
    expect(report.copied.map((c) => c.stage)).toEqual(["first", "second"])
    expect(await remote.list("runs/")).toEqual([remoteRunPath(first.key), remoteRunPath(second.key)].sort())
    expect(await remote.list("logs/")).toEqual([`logs/${first.key}.log`, `logs/${second.key}.log`].sort())
    const again = await pushRuns(a, remote, [first.id, second.id])
    expect(again).toMatchObject({ copied: [], blobs: 0 })
    expect(again.present.map((p) => p.stage)).toEqual(["first", "second"])

    const got = await pullRun(b, remote, first.key)
    expect(got).toMatchObject({ stage: "first", blobs: 2, bytes: 2 })
    const run = b.records.findOk(first.key)!
    expect(run.output).toBe(first.output)
    expect(readFileSync(run.log_path!, "utf8")).toBe("hello from first\n")
    expect(b.check(first.output)).toEqual([])
    // the blob both runs share is not downloaded twice
    expect(await pullRun(b, remote, second.key)).toMatchObject({ blobs: 0 })
    expect(b.records.findOk(second.key)!.output).toBe(second.output)
    expect(await pullRun(b, remote, "0".repeat(64))).toBeUndefined()
  })

  it("a blob changed in the remote stops the pull: nothing recorded, nothing left behind", async () => {
    const r = makeRun("first", { "x.txt": "the real bytes" })
    await pushRuns(a, remote, [r.id])
    const blob = a.records.files(r.output)[0]!.hash
    const p = join(dir, "remote", "blobs", blob.slice(0, 2), blob)
    chmodSync(p, 0o644)
    writeFileSync(p, "the real bytez")
    await expect(pullRun(b, remote, r.key)).rejects.toThrow(`blob ${blob} in ${remote.url} does not match its hash`)
    expect(b.records.findOk(r.key)).toBeUndefined()
    expect(existsSync(join(b.root, "blobs", blob.slice(0, 2)))).toBe(true)
    expect(readdirSync(join(b.root, "blobs", blob.slice(0, 2)))).toEqual([])
  })

  it("a corrupt blob in the local store is not pushed", async () => {
    const r = makeRun("first", { "x.txt": "the real bytes" })
    const blob = a.records.files(r.output)[0]!.hash
    const p = join(a.root, "blobs", blob.slice(0, 2), blob)
    chmodSync(p, 0o644)
    writeFileSync(p, "the real bytez")
    await expect(pushRuns(a, remote, [r.id])).rejects.toThrow(`blob ${blob.slice(0, 12)} in ${a.root} does not match its hash (corrupt)`)
    expect(await remote.list("")).toEqual([])
  })

  it("refuses a record that does not hold together, or whose files climb out of their artifact", async () => {
    const r = makeRun("first", { "x.txt": "x" })
    await pushRuns(a, remote, [r.id])
    const rec = (await remote.getJson(remoteRunPath(r.key))) as RemoteRun
    // under another key
    const other = "f".repeat(64)
    await remote.putJson(remoteRunPath(other), { ...rec, copy: { ...rec.copy, run: { ...rec.copy.run, key: other } } })
    await expect(readRemoteRun(remote, other)).rejects.toThrow("its key record does not hash to its key")
    // a file whose path leaves the artifact, with every hash made to agree
    const files = rec.copy.artifacts[0]!.files.map((f) => ({ ...f, path: "../../escape.txt" }))
    const hash = makeManifest(files.map((f) => ({ path: f.path, hash: f.blob, size: f.size, exec: f.exec === 1 }))).hash
    const evil: RemoteRun = {
      format: rec.format,
      copy: {
        run: { ...rec.copy.run, output: hash },
        edges: rec.copy.edges.map((e) => ({ ...e, artifact: hash })),
        artifacts: [{ hash, row: { ...rec.copy.artifacts[0]!.row!, hash }, files }]
      }
    }
    await remote.putJson(remoteRunPath(r.key), evil)
    await expect(pullRun(b, remote, r.key)).rejects.toThrow("has a file that is not a relative path with a blob")
    // files changed without the artifact's hash
    await remote.putJson(remoteRunPath(r.key), { ...rec, copy: { ...rec.copy, artifacts: [{ ...rec.copy.artifacts[0]!, files: [] }] } })
    await expect(pullRun(b, remote, r.key)).rejects.toThrow("does not match its files")
    await remote.putJson(remoteRunPath(r.key), { format: "something-else" })
    await expect(pullRun(b, remote, r.key)).rejects.toThrow(`${remote.url}: ${remoteRunPath(r.key)} is not a usable run record`)
    expect(b.records.findOk(r.key)).toBeUndefined()
  })
})
