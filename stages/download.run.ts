/** Running `download`: find or fetch the four files, verify them, write the image set. */
import { Effect } from "effect"
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from "node:fs"
import { homedir } from "node:os"
import { join, resolve } from "node:path"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import type { DownloadParams } from "./download.js"
import { StageError, type StageContext } from "../pipelines/kind.js"
import { CLASS_NAMES, DEBIAN_DIR, FILES, OFFICIAL_URL, type SourceFile } from "../ml/fashionMnist.js"
import { writeImageSet } from "../ml/imageSet.js"
import { readSourceFile, SourceError } from "../ml/sourceFiles.js"

type Params = DownloadParams

export const downloadDir = (): string =>
  process.env["PIPE_DOWNLOAD_DIR"] ??
  join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "pipe", "fashion-mnist")

const inDir = (dir: string, f: SourceFile): string | undefined =>
  [join(dir, `${f.name}.gz`), join(dir, f.name)].find((p) => existsSync(p))

const HELP =
  "install Debian's package (apt-get install dataset-fashion-mnist), or set FASHION_MNIST_DIR or params.dir " +
  "to a directory holding the four *-ubyte.gz files, or run where the official URL is reachable"

/** The local directory that has all four files, or undefined; an explicit params.dir must exist and be complete. */
const findLocal = (params: Params, workspace: string, tried: Array<string>): Map<SourceFile, string> | undefined => {
  const candidates: Array<[string, string]> = params.dir
    ? [[resolve(workspace, params.dir), "params.dir"]]
    : [
        ...(process.env["FASHION_MNIST_DIR"] ? [[process.env["FASHION_MNIST_DIR"], "$FASHION_MNIST_DIR"] as [string, string]] : []),
        [DEBIAN_DIR, "Debian's dataset-fashion-mnist"],
        [downloadDir(), "pipe's download cache"]
      ]
  for (const [dir, why] of candidates) {
    if (!existsSync(dir)) {
      if (params.dir) throw new SourceError(`params.dir ${dir}: no such directory; ${HELP}`)
      tried.push(`${dir} (${why}): not found`)
      continue
    }
    const found = new Map(FILES.map((f) => [f, inDir(dir, f)] as const))
    const missing = FILES.filter((f) => !found.get(f)).map((f) => `${f.name}.gz`)
    if (missing.length > 0) {
      if (params.dir) throw new SourceError(`params.dir ${dir}: missing ${missing.join(", ")}; ${HELP}`)
      tried.push(`${dir} (${why}): missing ${missing.join(", ")}`)
      continue
    }
    return found as Map<SourceFile, string>
  }
  return undefined
}

/** Fetches each file into the download cache: streamed to a temp file, verified, then renamed into place. */
const fetchAll = async (base: string, log: (l: string) => void, signal: AbortSignal): Promise<Map<SourceFile, string>> => {
  const dir = downloadDir()
  mkdirSync(dir, { recursive: true })
  const found = new Map<SourceFile, string>()
  for (const f of FILES) {
    const dest = join(dir, `${f.name}.gz`)
    if (!existsSync(dest)) {
      const url = `${base.replace(/\/$/, "")}/${f.name}.gz`
      const part = `${dest}.part-${process.pid}`
      try {
        const res = await fetch(url, { signal })
        if (!res.ok || !res.body) throw new SourceError(`${url}: HTTP ${res.status} ${res.statusText}`)
        const total = Number(res.headers.get("content-length") ?? 0)
        let got = 0
        let shown = -1
        const body = Readable.fromWeb(res.body as never)
        body.on("data", (chunk: Buffer) => {
          got += chunk.length
          const pct = total ? Math.floor((got / total) * 10) : -1
          if (pct !== shown) {
            shown = pct
            log(`downloading ${f.name}.gz: ${(got / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ""} MB`)
          }
        })
        await pipeline(body, createWriteStream(part))
        verifyDownload(part, f)
        renameSync(part, dest)
      } catch (e) {
        rmSync(part, { force: true })
        if (e instanceof SourceError) throw e
        throw new SourceError(`${url}: download failed: ${(e as Error).message}`)
      }
    }
    found.set(f, dest)
  }
  return found
}

/** A downloaded temp file is gzip whatever its name: read it as such, so it is verified before it is renamed. */
const verifyDownload = (part: string, f: SourceFile) => {
  const gz = `${part}.gz`
  renameSync(part, gz)
  try {
    readSourceFile(gz, f, CLASS_NAMES.length)
  } finally {
    renameSync(gz, part)
  }
}

const take = (data: Uint8Array, n: number, size: number) => data.subarray(0, n * size)

export const run = (ctx: StageContext<unknown, Params>) =>
  Effect.tryPromise({
    try: async (signal) => {
      const { params } = ctx
      const tried: Array<string> = []
      let files = params.source === "url" ? undefined : findLocal(params, ctx.workspace, tried)
      if (!files && params.source !== "dir") {
        const base = params.url ?? OFFICIAL_URL
        ctx.log(`no local copy found; downloading from ${base}`)
        try {
          files = await fetchAll(base, ctx.log, signal)
        } catch (e) {
          tried.push((e as Error).message)
        }
      }
      if (!files) throw new SourceError(`no Fashion-MNIST files found. Tried: ${tried.join("; ")}. Fix: ${HELP}`)

      const splits: Record<string, { images: Uint8Array; labels: Uint8Array }> = {}
      for (const split of ["train", "test"] as const) {
        const img = FILES.find((f) => f.split === split && f.role === "images")!
        const lab = FILES.find((f) => f.split === split && f.role === "labels")!
        ctx.log(`reading ${files.get(img)}`)
        const images = readSourceFile(files.get(img)!, img, CLASS_NAMES.length).data
        const labels = readSourceFile(files.get(lab)!, lab, CLASS_NAMES.length).data
        const n = Math.min(params.limit ?? img.count, img.count)
        splits[split] = { images: take(images, n, 28 * 28), labels: take(labels, n, 1) }
      }
      const manifest = writeImageSet(
        ctx.outDir,
        {
          name: "fashion-mnist",
          classes: CLASS_NAMES,
          height: 28,
          width: 28,
          channels: 1,
          meta: {
            source: FILES.map((f) => ({ file: f.name, sha256: f.sha256, bytes: f.bytes })),
            ...(params.limit ? { limit: params.limit } : {})
          }
        },
        splits
      )
      ctx.log(`train ${manifest.splits["train"]!.count} images, test ${manifest.splits["test"]!.count} images`)
    },
    catch: (e) => new StageError({ message: e instanceof SourceError ? e.message : `download failed: ${String(e)}` })
  })
