/** What pipe's exit status means; set by commands, read once when the process ends. */
export const ExitCode = {
  ok: 0,
  /** A stage failed (or, with --check, something would run). */
  stageFailed: 1,
  /** The pipeline file or the command line is invalid. */
  invalid: 2,
  /** The store cannot be used. */
  store: 3,
  /** A bug in pipe: please report it. */
  internal: 70,
  interrupted: 130
} as const

let code: number = ExitCode.ok

export const setExitCode = (c: number): void => {
  code = Math.max(code, c)
}

export const exitCode = (): number => code
