/**
 * Turns Effect Schema decoding failures into Diagnostics with plain messages:
 * `expected a positive integer, got -3`, `unknown key 'nedds' (did you mean 'needs'?)`.
 * Messages come from each schema's `description` annotation, so a schema states once what it expects.
 */
import { Option, ParseResult, SchemaAST as AST } from "effect"
import type { Diagnostic, DocPath } from "./diagnostic.js"
import { didYouMean } from "./suggest.js"

export const show = (v: unknown): string => {
  if (v === undefined) return "nothing"
  if (v === null) return "null"
  if (Array.isArray(v)) return v.length === 0 ? "an empty list" : `a list of ${v.length}`
  if (typeof v === "object") return "a map"
  if (typeof v === "string") return JSON.stringify(v)
  return String(v)
}

const expected = (ast: AST.AST): string => {
  const d = AST.getDescriptionAnnotation(ast)
  if (Option.isSome(d)) return d.value
  switch (ast._tag) {
    case "TupleType":
      return "a list"
    case "TypeLiteral":
      return "a map"
    case "Literal":
      return JSON.stringify(ast.literal)
    case "Union":
      return ast.types.map(expected).join(" or ")
    case "Refinement":
    case "Transformation":
      return expected(ast._tag === "Refinement" ? ast.from : ast.to)
    case "Suspend":
      return expected(ast.f())
    default:
      return String(ast)
  }
}

/** The property names of a struct schema's AST, optional ones included. */
export const keysOf = (ast: AST.AST | undefined): Array<string> => {
  if (!ast) return []
  if (ast._tag === "TypeLiteral") return ast.propertySignatures.map((p) => String(p.name))
  if (ast._tag === "Transformation") return keysOf(ast.to)
  if (ast._tag === "Refinement") return keysOf(ast.from)
  return []
}

const toArray = <A>(x: A | ReadonlyArray<A>): ReadonlyArray<A> => (Array.isArray(x) ? x : [x as A])

export const diagnosticsOf = (
  issue: ParseResult.ParseIssue,
  path: DocPath = [],
  parent?: AST.AST
): Array<Diagnostic> => {
  switch (issue._tag) {
    case "Pointer":
      return diagnosticsOf(issue.issue, [...path, ...toArray(issue.path).map((p) => (typeof p === "symbol" ? String(p) : p))], parent)
    case "Composite": {
      // An optional value (X | undefined, e.g. a param with a default) that is there but wrong: say what is
      // wrong with it as an X, not also that it is not undefined.
      const issues = toArray(issue.issues)
      const defined = AST.isUnion(issue.ast) ? issues.filter((i) => !(i._tag === "Type" && AST.isUndefinedKeyword(i.ast))) : issues
      // A value that is none of a few literals ("mlp" | "cnn" | ...): one problem listing them.
      const types = defined.filter((i): i is ParseResult.Type => i._tag === "Type" && AST.isLiteral(i.ast))
      if (types.length > 1 && types.length === defined.length) {
        const values = types.map((i) => (i.ast as AST.Literal).literal)
        const actual = types[0]!.actual
        const hint = typeof actual === "string" ? didYouMean(actual, values.filter((v): v is string => typeof v === "string")) : ""
        return [{ path, message: `expected one of ${values.map((v) => JSON.stringify(v)).join(", ")}, got ${show(actual)}${hint}` }]
      }
      return (defined.length > 0 ? defined : issues).flatMap((i) => diagnosticsOf(i, path, issue.ast))
    }
    case "Unexpected": {
      const key = String(path.at(-1))
      const allowed = keysOf(parent)
      const hint = didYouMean(key, allowed)
      return [
        {
          path,
          at: "key",
          message: `unknown key '${key}'${hint}${hint || allowed.length === 0 ? "" : `; allowed keys: ${allowed.join(", ")}`}`
        }
      ]
    }
    case "Missing": {
      // The issue's ast is the property signature; what is expected is its type.
      const sig = issue.ast as unknown as { type?: AST.AST }
      const what = expected(sig.type ?? (issue.ast as unknown as AST.AST))
      return [{ path, message: `missing required key '${String(path.at(-1))}' (${what})`, at: "key" }]
    }
    case "Refinement": {
      const message = `expected ${expected(issue.ast)}, got ${show(issue.actual)}`
      if (issue.kind === "Predicate") return [{ path, message }]
      // The refined value's own shape is wrong: report problems inside it (e.g. a list element) where they are,
      // and a wrong value at this level in the refinement's words ("a non-empty list of strings").
      const inner = diagnosticsOf(issue.issue, path, parent)
      const here = Option.isSome(AST.getDescriptionAnnotation(issue.ast)) && inner.every((d) => d.path.length === path.length)
      return here ? [{ path, message }] : inner
    }
    case "Transformation":
      return diagnosticsOf(issue.issue, path, parent)
    case "Type":
    case "Forbidden":
      return [{ path, message: issue.message ?? `expected ${expected(issue.ast)}, got ${show(issue.actual)}` }]
  }
}
