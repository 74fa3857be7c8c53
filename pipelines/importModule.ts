/**
 * Imports a pipeline module (TypeScript or JavaScript). It is bundled with esbuild first, so TypeScript runs
 * without a separate build step and relative imports of pipe's own modules resolve. The default export is a
 * PipelineBuilder or a plain pipeline document.
 */
import { rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"

/** A module that cannot be bundled or has no usable default export; `location` is file:line:col when known. */
export class ModuleError extends Error {
  constructor(
    message: string,
    readonly location?: string
  ) {
    super(message)
  }
}

export const importPipelineModule = async (file: string): Promise<unknown> => {
  const { build } = await import("esbuild")
  const result = await build({
    entryPoints: [file],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    logLevel: "silent",
    external: ["better-sqlite3"]
  }).catch((e: { errors?: Array<{ text: string; location: { file: string; line: number; column: number } | null }> }) => {
    const first = e.errors?.[0]
    if (!first) throw e
    const loc = first.location
    throw new ModuleError(first.text, loc ? `${loc.file}:${loc.line}:${loc.column + 1}` : undefined)
  })
  const tmp = join(tmpdir(), `pipe-module-${process.pid}-${Date.now()}.mjs`)
  writeFileSync(tmp, result.outputFiles[0]!.contents)
  try {
    const mod = (await import(pathToFileURL(tmp).href)) as { default?: unknown }
    const def = mod.default as { toDocument?: () => unknown } | undefined
    if (def === undefined) throw new ModuleError("the module has no default export; export default the pipeline")
    return typeof def.toDocument === "function" ? def.toDocument() : def
  } finally {
    rmSync(tmp, { force: true })
  }
}
