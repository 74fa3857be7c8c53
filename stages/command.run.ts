/** Running a `command` stage: execa without a shell, stdout and stderr appended to the run's log. */
import { Effect } from "effect"
import type { Options } from "execa"
import { interpolate } from "./command.js"
import { StageError, type StageContext } from "../pipelines/kind.js"

export const envName = (stageId: string): string => `PIPE_IN_${stageId.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`

export const run = (
  ctx: StageContext<{ readonly cmd: ReadonlyArray<string>; readonly deps?: ReadonlyArray<string> }, Record<string, unknown>>
) =>
  Effect.gen(function* () {
    const argv = ctx.config.cmd.map((a) => interpolate(a, ctx.params))
    const program = argv[0]!
    const env: Record<string, string> = {
      PIPE_OUT: ctx.outDir,
      // Figures for the run's record (a JSON object, or JSON lines): outside $PIPE_OUT, so not in the output.
      PIPE_METRICS: ctx.metricsFile,
      // No stage id here: it is not in the key (a renamed stage reuses its outputs), so it must not reach the output.
      PIPE_PARAMS: JSON.stringify(ctx.params)
    }
    for (const input of ctx.inputs) env[envName(input.stage)] = input.dir
    const log = { file: ctx.logFile, append: true } as const
    const result = yield* Effect.tryPromise({
      try: async (signal) => {
        const options: Options = {
          cwd: ctx.workspace,
          env,
          extendEnv: true,
          stdin: "ignore",
          stdout: ctx.echo === "none" ? log : [log, ctx.echo === "stdout" ? "inherit" : process.stderr],
          stderr: ctx.echo === "none" ? log : [log, "inherit"],
          reject: false
        }
        // pipe's runtime handles SIGINT/SIGTERM by interrupting the stage, which aborts `signal` and stops the
        // command's process group.
        return await ctx.spawn(program, argv.slice(1), { ...options, signal })
      },
      catch: (e) => new StageError({ message: `could not start ${program}: ${String(e)}` })
    })
    if (result.failed) {
      const how =
        result.code === "ENOENT"
          ? `command not found: ${program} (is it installed and on PATH?)`
          : result.signal
            ? `command killed by ${result.signal}`
            : result.exitCode !== undefined
              ? `command exited with code ${result.exitCode}`
              : (result.shortMessage ?? "command failed")
      return yield* new StageError({ message: how })
    }
  })
