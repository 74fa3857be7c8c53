/** Runs the built CLI (dist/pipe.mjs) in a temporary workspace, as a user would. */
import { execa, type ResultPromise } from "execa"
import Database from "better-sqlite3"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

export const PIPE = resolve(import.meta.dirname, "../../dist/pipe.mjs")

export interface Workspace {
  readonly dir: string
  write(name: string, text: string): void
  read(name: string): string
  pipe(args: ReadonlyArray<string>, env?: Record<string, string>): Promise<Result>
  spawn(args: ReadonlyArray<string>, env?: Record<string, string>): ResultPromise
  json(args: ReadonlyArray<string>): Promise<{ code: number; events: Array<Record<string, any>>; stderr: string }>
  /** Lines of ran.log: test stages append their id there, so this counts real executions. */
  ranLog(): Array<string>
  /** The store's SQLite database, read-only. */
  db(): Database.Database
  /** An artifact's files in the store: relative path -> blob path (read them as the stage's output). */
  artifact(hash: string, store?: string): Record<string, string>
  cleanup(): void
}

export interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export const workspace = (files: Record<string, string> = {}): Workspace => {
  const dir = mkdtempSync(join(tmpdir(), "pipe-test-"))
  const ws: Workspace = {
    dir,
    write: (name, text) => writeFileSync(join(dir, name), text),
    read: (name) => readFileSync(join(dir, name), "utf8"),
    pipe: async (args, env = {}) => {
      const r = await execa("node", [PIPE, ...args], {
        cwd: dir,
        reject: false,
        env: { NO_COLOR: "1", PIPE_STORE: "", ...env },
        stdin: "ignore"
      })
      return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr }
    },
    spawn: (args, env = {}) =>
      execa("node", [PIPE, ...args], { cwd: dir, reject: false, env: { NO_COLOR: "1", PIPE_STORE: "", ...env }, stdin: "ignore" }),
    json: async (args) => {
      const r = await ws.pipe([...args, "--json"])
      const events = r.stdout
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, any>)
      return { code: r.code, events, stderr: r.stderr }
    },
    ranLog: () => (existsSync(join(dir, "ran.log")) ? ws.read("ran.log").trim().split("\n").filter(Boolean) : []),
    db: () => new Database(join(dir, ".pipe", "pipe.db"), { readonly: true }),
    artifact: (hash, store = join(dir, ".pipe")) => {
      const d = new Database(join(store, "pipe.db"), { readonly: true })
      const rows = d.prepare("SELECT path, blob FROM artifact_files WHERE artifact = ?").all(hash) as Array<{ path: string; blob: string }>
      d.close()
      return Object.fromEntries(rows.map((r) => [r.path, join(store, "blobs", r.blob.slice(0, 2), r.blob)]))
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true })
  }
  for (const [name, text] of Object.entries(files)) ws.write(name, text)
  return ws
}

/** Status of each stage in a `pipe run --json` event list. */
export const statuses = (events: ReadonlyArray<Record<string, any>>): Record<string, string> =>
  Object.fromEntries(events.filter((e) => e["event"] === "stage").map((e) => [e["stage"], e["status"]]))

export const summary = (events: ReadonlyArray<Record<string, any>>): Record<string, any> | undefined =>
  events.find((e) => e["event"] === "summary")
