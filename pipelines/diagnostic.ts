/**
 * A problem in a pipeline declaration, addressed by its path in the document (e.g. stages.train.params.epochs).
 * The loader turns paths into file:line:col; the pure validation code only deals in paths.
 */
export type DocPath = ReadonlyArray<string | number>

export interface Diagnostic {
  readonly path: DocPath
  readonly message: string
  /** Point at the key itself (an unknown key) rather than at its value. */
  readonly at?: "key" | "value"
}

/** stages.train.needs[1] */
export const formatPath = (path: DocPath): string =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("")
