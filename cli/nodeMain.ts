/**
 * The entry the cluster executor starts on a compute node (dist/exec-node.mjs): `exec-node.mjs KEY --remote URL
 * [--scratch DIR]`, as `pipe exec-node` but without loading the command-line framework and every other
 * command, so a stage's job starts sooner. Same exit codes: 0 ok, 1 the stage failed, 2 a bad call or a job this
 * pipe cannot run, 3 the remote cannot be used.
 */
import { Effect, Either } from "effect"
import { ExitCode } from "./exitCodes.js"
import { execNode } from "./nodeJob.js"

const usage = "usage: exec-node.mjs KEY --remote URL [--scratch DIR]"

const parse = (argv: ReadonlyArray<string>): { key: string; remote: string; scratch?: string } | string => {
  let key: string | undefined
  let remote: string | undefined
  let scratch: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const [name, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined]
    if (name === "--remote" || name === "--scratch") {
      const v = inline ?? argv[++i]
      if (v === undefined) return `${name} needs a value; ${usage}`
      if (name === "--remote") remote = v
      else scratch = v
    } else if (!a.startsWith("-") && key === undefined) key = a
    else return `unexpected '${a}'; ${usage}`
  }
  if (key === undefined || remote === undefined) return usage
  return { key, remote, ...(scratch !== undefined ? { scratch } : {}) }
}

const args = parse(process.argv.slice(2))
if (typeof args === "string") {
  process.stderr.write(`exec-node: ${args}\n`)
  process.exitCode = ExitCode.invalid
} else {
  const r = await Effect.runPromise(Effect.either(execNode(args.key, args.remote, args.scratch)))
  if (Either.isRight(r)) {
    process.stdout.write(`${r.right.stage}: ${r.right.status}${r.right.error ? `: ${r.right.error}` : ""}\n`)
    process.exitCode = r.right.status === "ok" ? ExitCode.ok : ExitCode.stageFailed
  } else {
    process.stderr.write(`pipe: ${r.left.message}\n`)
    process.exitCode = r.left._tag === "UsageError" ? ExitCode.invalid : ExitCode.store
  }
}
