/** The store on real files and a real SQLite database: migrations, blobs, stat cache, locks, dead processes. */
import Database from "better-sqlite3"
import { spawnSync } from "node:child_process"
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { blobPath, changedInputs, checkBlobs, ingest, materialize } from "../../artifacts/blobs.js"
import { hashFile } from "../../artifacts/hashFile.js"
import { sha256 } from "../../artifacts/canonical.js"
import { MIGRATIONS } from "../../cache/migrations.js"
import { openStore, type StoreApi } from "../../cache/store.js"

let dir: string
let store: StoreApi
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pipe-store-"))
  store = openStore(join(dir, "store"))
})
afterEach(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The store's database opened beside the store, as another process would, to set up rows and assert on them. */
const withDb = <A>(f: (db: Database.Database) => A, readonly = true): A => {
  const db = new Database(join(store.root, "pipe.db"), { readonly })
  try {
    return f(db)
  } finally {
    db.close()
  }
}

/** A pid that certainly belongs to no running process: a child that has exited. */
const deadPid = () => spawnSync("true").pid!

const write = (rel: string, text: string) => {
  const p = join(dir, rel)
  mkdirSync(join(p, ".."), { recursive: true })
  writeFileSync(p, text)
  return p
}

describe("migrations", () => {
  it("bring a new store to the latest version, once", () => {
    expect(withDb((db) => db.pragma("user_version", { simple: true }))).toBe(MIGRATIONS.length)
    const tables = withDb((db) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all())
    expect(tables).toEqual([
      "artifact_files", "artifacts", "blobs", "dropped_sweeps", "edges", "experiment_runs", "experiment_tags", "experiments", "heads", "locks", "pins",
      "runs", "stat_cache", "sweep_point_runs", "sweep_points", "sweeps"
    ])
    store.close()
    store = openStore(join(dir, "store"))
    expect(withDb((db) => db.pragma("user_version", { simple: true }))).toBe(MIGRATIONS.length)
  })

  it("refuse a store written by a newer pipe", () => {
    store.close()
    withDb((db) => db.pragma(`user_version = ${MIGRATIONS.length + 1}`), false)
    expect(() => (store = openStore(join(dir, "store")))).toThrow(
      `the store's schema is version ${MIGRATIONS.length + 1}, newer than this pipe knows (${MIGRATIONS.length}); upgrade pipe`
    )
    store = openStore(join(dir, "other"))
  })
})

describe("blobs", () => {
  it("store each content once, read-only, and give a directory the same hash wherever it was made", () => {
    write("out1/a.txt", "alpha\n")
    write("out1/sub/b.txt", "beta\n")
    write("out1/sub/copy.txt", "alpha\n")
    const one = ingest(store.root, join(dir, "out1"))
    expect(one.manifest.files.map((f) => f.path)).toEqual(["a.txt", "sub/b.txt", "sub/copy.txt"])
    expect(one.manifest.files[0]!.hash).toBe(sha256("alpha\n"))
    expect(one.blobs).toHaveLength(2)
    const alpha = blobPath(store.root, sha256("alpha\n"))
    expect(readFileSync(alpha, "utf8")).toBe("alpha\n")
    expect(statSync(alpha).mode & 0o777).toBe(0o444)

    // Same files written in another order, elsewhere: same artifact hash.
    write("out2/sub/copy.txt", "alpha\n")
    write("out2/sub/b.txt", "beta\n")
    write("out2/a.txt", "alpha\n")
    expect(ingest(store.root, join(dir, "out2")).manifest.hash).toBe(one.manifest.hash)
    // An executable bit is part of the content.
    write("out3/a.txt", "alpha\n")
    write("out3/sub/b.txt", "beta\n")
    write("out3/sub/copy.txt", "alpha\n")
    chmodSync(join(dir, "out3/a.txt"), 0o755)
    expect(ingest(store.root, join(dir, "out3")).manifest.hash).not.toBe(one.manifest.hash)
  })

  it("materialise an artifact as private read-only copies, and tell what a stage did to them", () => {
    write("out/x/y.txt", "why\n")
    write("out/z.txt", "zed\n")
    const { manifest } = ingest(store.root, join(dir, "out"))
    const copy = materialize(store.root, manifest.files, join(dir, "view"))
    const view = join(dir, "view/x/y.txt")
    const blob = blobPath(store.root, manifest.files.find((f) => f.path === "x/y.txt")!.hash)
    expect(readFileSync(view, "utf8")).toBe("why\n")
    expect(statSync(view).ino).not.toBe(statSync(blob).ino)
    expect(statSync(view).mode & 0o222).toBe(0)
    expect(changedInputs(copy)).toEqual([])
    // Written in place (as root can), with size and mtime put back: the blob is untouched, the change is seen.
    const before = statSync(view)
    chmodSync(view, 0o644)
    writeFileSync(view, "WHY\n")
    utimesSync(view, before.atime, before.mtime)
    chmodSync(join(dir, "view/x"), 0o755)
    writeFileSync(join(dir, "view/x/extra"), "")
    rmSync(join(dir, "view/z.txt"), { force: true })
    expect(changedInputs(copy).sort()).toEqual(["x/extra (added)", "x/y.txt", "z.txt (removed)"])
    expect(readFileSync(blob, "utf8")).toBe("why\n")
  })

  it("are moved into the store, not linked: the output directory keeps no name for a blob", () => {
    write("out/a", "aaaa")
    const { blobs } = ingest(store.root, join(dir, "out"))
    expect(existsSync(join(dir, "out/a"))).toBe(false)
    expect(statSync(blobPath(store.root, blobs[0]!.hash)).nlink).toBe(1)
  })

  it("are checked by stat, and rehashed only when the stat moved", () => {
    write("out/a", "aaaa")
    write("out/b", "bbbb")
    write("out/c", "cccc")
    const { blobs } = ingest(store.root, join(dir, "out"))
    expect(checkBlobs(store.root, blobs)).toEqual({ damaged: [], touched: [] })
    const [a, b, c] = blobs.map((x) => blobPath(store.root, x.hash))
    // b: same bytes, new mtime -> intact, reported as touched so its record is refreshed
    utimesSync(b!, new Date(), new Date(Date.now() + 5000))
    // a: same size, other bytes
    chmodSync(a!, 0o644)
    writeFileSync(a!, "AAAA")
    // c: other bytes, with size and mtime put back: only the ctime tells
    const cst = statSync(c!)
    chmodSync(c!, 0o644)
    writeFileSync(c!, "CCCC")
    utimesSync(c!, cst.atime, cst.mtime)
    chmodSync(c!, 0o444)
    const result = checkBlobs(store.root, blobs)
    expect(result.damaged).toEqual([
      { hash: sha256("aaaa"), problem: "corrupt" },
      { hash: sha256("cccc"), problem: "corrupt" }
    ])
    expect(result.touched.map((t) => t.hash)).toEqual([sha256("bbbb")])
    rmSync(b!)
    expect(checkBlobs(store.root, blobs).damaged).toContainEqual({ hash: sha256("bbbb"), problem: "missing" })
  })

  it("refuse outputs that escape the output directory", () => {
    write("secret", "s")
    mkdirSync(join(dir, "out"))
    symlinkSync(join(dir, "secret"), join(dir, "out/leak"))
    expect(() => ingest(store.root, join(dir, "out"))).toThrow(
      `output leak is a symlink to ${join(dir, "secret")}, outside $PIPE_OUT; copy the file into $PIPE_OUT instead of linking it`
    )
    rmSync(join(dir, "out/leak"))
    symlinkSync("..", join(dir, "out/up"))
    expect(() => ingest(store.root, join(dir, "out"))).toThrow(/^output up is a symlink to .*, outside \$PIPE_OUT/)
  })
})

describe("the stat cache", () => {
  const old = new Date(Date.now() - 60_000)

  it("does not reread a file whose size, mtime and inode are unchanged", () => {
    const p = write("data.bin", "0123456789")
    utimesSync(p, old, old)
    const first = store.stats.hashPath(dir, "data.bin")
    expect(first).toBe(sha256("0123456789"))
    // Same size and mtime, other bytes: the remembered hash is returned, proving the file was not reread.
    writeFileSync(p, "9876543210")
    utimesSync(p, old, old)
    expect(store.stats.hashPath(dir, "data.bin")).toBe(first)
    // A new mtime is noticed.
    utimesSync(p, old, new Date(Date.now() - 30_000))
    expect(store.stats.hashPath(dir, "data.bin")).toBe(sha256("9876543210"))
  })

  it("does not remember files modified in the last second", () => {
    const p = write("fresh.txt", "one")
    expect(store.stats.hashPath(dir, "fresh.txt")).toBe(sha256("one"))
    expect(withDb((db) => db.prepare("SELECT count(*) FROM stat_cache WHERE path = ?").pluck().get(p))).toBe(0)
  })

  it("hashes a directory as the manifest of its files", () => {
    write("d/a", "1")
    write("d/e/b", "2")
    const h = store.stats.hashPath(dir, "d")
    write("d/e/c", "3")
    expect(store.stats.hashPath(dir, "d")).not.toBe(h)
    expect(() => store.stats.hashPath(dir, "nope")).toThrow(`nope: no such file or directory in ${dir}`)
  })
})

describe("locks and dead processes", () => {
  it("lets one holder at a time have a key, and takes over a lock whose holder died", () => {
    expect(store.locks.tryAcquire("k1", "train")).toBeUndefined()
    expect(store.locks.tryAcquire("k1", "train")).toEqual({ pid: process.pid, stage: "train" })
    expect(store.locks.tryAcquire("k2", "eval")).toBeUndefined()
    store.locks.release("k1")
    expect(store.locks.tryAcquire("k1", "train")).toBeUndefined()

    const dead = deadPid()
    withDb((db) => db.prepare("INSERT INTO locks (key, stage, pid, pstart, acquired_at) VALUES ('k3', 'x', ?, NULL, 0)").run(dead), false)
    expect(store.locks.tryAcquire("k3", "x")).toBeUndefined()
    expect(withDb((db) => db.prepare("SELECT pid FROM locks WHERE key = 'k3'").pluck().get())).toBe(process.pid)
  })

  it("sees through a reused pid by its start time", () => {
    withDb((db) => db.prepare("INSERT INTO locks (key, stage, pid, pstart, acquired_at) VALUES ('k', 'x', ?, '1', 0)").run(process.pid), false)
    expect(store.locks.tryAcquire("k", "x")).toBeUndefined()
  })

  it("marks runs left 'running' by dead processes as interrupted, on open", () => {
    const dead = deadPid()
    withDb((db) => {
      const insert = db.prepare(
        "INSERT INTO runs (key, pipeline, stage, kind, status, record, pid, started_at) VALUES ('k', 'p', ?, 'command', 'running', '{}', ?, 0)"
      )
      insert.run("dead", dead)
      insert.run("alive", process.pid)
    }, false)
    store.close()
    store = openStore(join(dir, "store"))
    expect(withDb((db) => db.prepare("SELECT stage, status FROM runs ORDER BY id").all())).toEqual([
      { stage: "dead", status: "interrupted" },
      { stage: "alive", status: "running" }
    ])
  })

  it("removes temp directories of dead processes, on open", () => {
    const dead = deadPid()
    mkdirSync(join(store.root, "tmp", `${dead}-123-4`, "out"), { recursive: true })
    mkdirSync(join(store.root, "tmp", `${process.pid}-x-5`), { recursive: true })
    store.close()
    store = openStore(join(store.root))
    expect(new Database(join(store.root, "pipe.db")).pragma("journal_mode", { simple: true })).toBe("wal")
    expect(spawnSync("ls", [join(store.root, "tmp")]).stdout.toString().trim()).toBe(`${process.pid}-x-5`)
  })
})

describe("hashing", () => {
  it("streams files of any size to the same digest as hashing them whole", () => {
    const big = Buffer.alloc(3 * (1 << 20) + 17, 7)
    const p = join(dir, "big")
    writeFileSync(p, big)
    expect(hashFile(p)).toBe(sha256(big))
  })
})

describe("hashing deps", () => {
  it("skips dangling symlinks, link loops and the store itself", () => {
    write("lib/a.txt", "a")
    const before = store.stats.hashPath(dir, "lib")
    symlinkSync(join(dir, "nowhere"), join(dir, "lib/.#lock"))
    symlinkSync("..", join(dir, "lib/loop"))
    expect(store.stats.hashPath(dir, "lib")).toBe(store.stats.hashPath(dir, "lib"))
    // the loop adds lib's parent once (as lib/loop/...), but never recurses forever
    const withStore = store.stats.hashPath(dir, ".", join(dir, "store"))
    writeFileSync(join(dir, "store", "logs", "1.log"), "changes every run")
    expect(store.stats.hashPath(dir, ".", join(dir, "store"))).toBe(withStore)
    expect(before).toMatch(/^[0-9a-f]{64}$/)
  })
})
