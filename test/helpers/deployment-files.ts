/**
 * Reads the deployment files as their tools would: the Dockerfile's instructions per stage (line
 * continuations joined, comments dropped), and the YAML examples (the `yaml` package).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'

export const ROOT = process.cwd()

export interface Instruction { readonly keyword: string, readonly args: string }
export interface Stage { readonly from: string, readonly name: string | undefined, readonly instructions: Instruction[] }

export function dockerfileStages (text: string = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')): Stage[] {
  const logical = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'))
  const stages: Stage[] = []
  for (const line of logical) {
    const [, keyword, args] = /^(\S+)\s+(.*)$/.exec(line)!
    if (keyword!.toUpperCase() === 'FROM') {
      const [from, , name] = args!.split(/\s+/)
      stages.push({ from: from!, name, instructions: [] })
    } else {
      stages.at(-1)!.instructions.push({ keyword: keyword!.toUpperCase(), args: args! })
    }
  }
  return stages
}

/** The exec-form array of a CMD / ENTRYPOINT / HEALTHCHECK ... CMD instruction. */
export function execForm (args: string): string[] {
  return JSON.parse(args.slice(args.indexOf('['))) as string[]
}

/** `ENV A=1 B=2` → { A: '1', B: '2' } for every ENV of a stage. */
export function envOf (stage: Stage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== 'ENV') continue
    for (const pair of args.split(/\s+/)) {
      const at = pair.indexOf('=')
      env[pair.slice(0, at)] = pair.slice(at + 1)
    }
  }
  return env
}

/** Every document of a YAML file; a syntax error throws. */
export function yamlDocuments (file: string): Array<Record<string, unknown>> {
  return parseAllDocuments(readFileSync(join(ROOT, file), 'utf8')).map((document) => {
    if (document.errors.length > 0) throw document.errors[0]!
    return document.toJS() as Record<string, unknown>
  })
}
