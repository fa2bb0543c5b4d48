/**
 * Environment overrides. Every setting of the JSON Schema can be set by an environment variable
 * whose name is derived from its path, so the schema stays the one list of settings:
 *
 *   upstream.timeout_ms                 → JARM_GATEWAY_UPSTREAM_TIMEOUT_MS
 *   clients (the whole map, as JSON)    → JARM_GATEWAY_CLIENTS
 *   clients.<id>.client_secret          → JARM_GATEWAY_CLIENTS_<ID>_CLIENT_SECRET  (ID: upper case, other characters as _)
 *   issuers (the whole list, as JSON)   → JARM_GATEWAY_ISSUERS
 *   issuers[n].clients.<id>.client_secret → JARM_GATEWAY_ISSUERS_<N>_CLIENTS_<ID>_CLIENT_SECRET  (N: the index, from 0)
 *
 * Each name also has a `_FILE` form that reads the value from a file (a mounted secret). The values
 * are merged into the parsed file before validation, so the schema checks them like any other.
 * Problems name the variable, never its value.
 */
import { readFile } from 'node:fs/promises'

export const ENV_PREFIX = 'JARM_GATEWAY_'
/** Suffix of the variable form that names a file holding the value. */
export const FILE_SUFFIX = '_FILE'

/** The subset of JSON Schema (draft-07) the config schema uses. */
export interface ConfigSchema {
  readonly type?: string
  readonly properties?: Readonly<Record<string, ConfigSchema>>
  readonly additionalProperties?: boolean | ConfigSchema
  readonly items?: ConfigSchema
  readonly $ref?: string
  readonly oneOf?: readonly ConfigSchema[]
  readonly enum?: readonly unknown[]
  readonly default?: unknown
  readonly description?: string
  readonly writeOnly?: boolean
  readonly definitions?: Readonly<Record<string, ConfigSchema>>
}

/** How a variable's text becomes a JSON value. */
export type ValueKind = 'string' | 'integer' | 'boolean' | 'list' | 'json-object' | 'string-or-json'

export interface EnvironmentSetting {
  /** The variable name; `<ID>` stands for a map key (a client_id), `<N>` for a list index. */
  readonly name: string
  /** Path in the configuration; `*` for a map key, `#` for a list index. */
  readonly path: readonly string[]
  readonly kind: ValueKind
  /** `writeOnly` in the schema: a secret, best given with `_FILE`. */
  readonly secret: boolean
  readonly default: unknown
  readonly description: string | undefined
}

/** `redirect_uris` → `REDIRECT_URIS`, `my-app.v2` → `MY_APP_V2` */
export function envSegment (segment: string): string {
  return segment.toUpperCase().replace(/[^A-Z0-9]+/g, '_')
}

function resolveRef (node: ConfigSchema, root: ConfigSchema): ConfigSchema {
  if (node.$ref === undefined) return node
  const name = node.$ref.replace('#/definitions/', '')
  return { ...root.definitions![name]!, ...node, $ref: undefined }
}

function kindOf (node: ConfigSchema): ValueKind {
  if (node.oneOf !== undefined) return 'string-or-json'
  if (node.type === 'integer') return 'integer'
  if (node.type === 'boolean') return 'boolean'
  if (node.type === 'array') return 'list'
  if (node.type === 'object') return 'json-object'
  return 'string'
}

/** Placeholders in a setting's path, and what stands for them in its variable name. */
const MAP_KEY = '*'
const LIST_INDEX = '#'
const PLACEHOLDER_NAMES: Readonly<Record<string, string>> = { [MAP_KEY]: '<ID>', [LIST_INDEX]: '<N>' }

/**
 * Every setting the schema defines, as environment variables, in schema order. An object with fixed
 * properties is walked; a map (`clients`) or a list of objects (`issuers`) is one JSON variable plus
 * one variable per entry setting.
 */
export function environmentSettings (root: ConfigSchema): EnvironmentSetting[] {
  const settings: EnvironmentSetting[] = []
  const walk = (node: ConfigSchema, path: string[]): void => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      if (name === '$schema') continue
      const property = resolveRef(child, root)
      const at = [...path, name]
      if (property.properties !== undefined) {
        walk(property, at)
        continue
      }
      settings.push({
        name: ENV_PREFIX + at.map((s) => PLACEHOLDER_NAMES[s] ?? envSegment(s)).join('_'),
        path: at,
        kind: kindOf(property),
        secret: property.writeOnly === true,
        default: property.default,
        description: property.description,
      })
      if (typeof property.additionalProperties === 'object') walk(resolveRef(property.additionalProperties, root), [...at, MAP_KEY])
      if (property.items?.properties !== undefined) walk(property.items, [...at, LIST_INDEX])
    }
  }
  walk(root, [])
  return settings
}

/** Text → JSON value, or a problem (which never quotes the text: it may be a secret). */
function parseValue (text: string, kind: ValueKind, fromFile: boolean): { value: unknown } | { problem: string } {
  const trimmed = text.trim()
  switch (kind) {
    case 'integer':
      return /^-?\d+$/.test(trimmed) ? { value: Number(trimmed) } : { problem: 'must be an integer' }
    case 'boolean':
      if (/^(true|1)$/i.test(trimmed)) return { value: true }
      if (/^(false|0)$/i.test(trimmed)) return { value: false }
      return { problem: 'must be true or false' }
    case 'list':
      // A JSON array, or one item per line in a file / per comma in a variable.
      if (trimmed.startsWith('[')) return parseJson(trimmed, 'a JSON array', Array.isArray)
      return { value: trimmed.split(fromFile ? /\r?\n/ : ',').map((item) => item.trim()).filter((item) => item !== '') }
    case 'json-object':
      return parseJson(trimmed, 'a JSON object', (v) => typeof v === 'object' && v !== null && !Array.isArray(v))
    case 'string-or-json':
      return trimmed.startsWith('{') ? parseJson(trimmed, 'a JSON object', () => true) : { value: trimmed }
    case 'string':
      // A file's final newline is not part of the value (`echo secret > file`).
      return { value: fromFile ? text.replace(/\r?\n$/, '') : text }
  }
}

function parseJson (text: string, what: string, accept: (value: unknown) => boolean): { value: unknown } | { problem: string } {
  try {
    const value: unknown = JSON.parse(text)
    if (accept(value)) return { value }
  } catch {
    // reported below
  }
  return { problem: `must be ${what}` }
}

async function readVariable (env: NodeJS.ProcessEnv, name: string): Promise<{ text: string, fromFile: boolean, source: string } | { problem: string } | undefined> {
  const direct = env[name]
  const file = env[name + FILE_SUFFIX]
  if (direct !== undefined && file !== undefined) return { problem: `${name}, ${name}${FILE_SUFFIX}: set one of them, not both` }
  if (direct !== undefined) return { text: direct, fromFile: false, source: name }
  if (file === undefined) return undefined
  try {
    return { text: await readFile(file, 'utf8'), fromFile: true, source: name + FILE_SUFFIX }
  } catch (error) {
    return { problem: `${name}${FILE_SUFFIX}: cannot read ${file} (${(error as NodeJS.ErrnoException).code})` }
  }
}

type JsonObject = Record<string, unknown>
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value)

function setAt (target: JsonObject, path: readonly string[], value: unknown): void {
  let node = target
  for (const segment of path.slice(0, -1)) {
    // A list entry exists already (only the indexes present are expanded).
    if (!isObject(node[segment]) && !Array.isArray(node[segment])) node[segment] = {}
    node = node[segment] as JsonObject
  }
  node[path[path.length - 1]!] = value
}

/** The keys of the map, or the indexes of the list, at `path` (none when it is neither). */
function entriesAt (target: JsonObject, path: readonly string[], placeholder: string): string[] {
  let node: unknown = target
  for (const segment of path) node = isObject(node) || Array.isArray(node) ? (node as JsonObject)[segment] : undefined
  if (placeholder === LIST_INDEX) return Array.isArray(node) ? node.map((_entry, index) => String(index)) : []
  return isObject(node) ? Object.keys(node) : []
}

/** One setting a variable name stands for. */
interface Target {
  readonly setting: EnvironmentSetting
  readonly path: readonly string[]
  /** For a per-entry setting: the map's path and the entry's key (a client_id) at its last placeholder. */
  readonly entry?: { readonly mapPath: readonly string[], readonly key: string }
}

/** `a and b`, `a, b and c` */
const listOf = (items: readonly string[]): string => items.length === 2 ? items.join(' and ') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`

/**
 * A set variable that stands for more than one setting (map keys differing only in characters that
 * become `_`, such as client_ids my-app and my.app): applying it to all of them, or to either, would
 * be a guess, so it is a problem naming every setting and the variable, never the value.
 */
function ambiguity (source: string, targets: readonly Target[]): string {
  const { mapPath } = targets[0]!.entry!
  const keys = targets.map((target) => target.entry!.key)
  const segments = new Set(keys.map(envSegment))
  const label = mapPath.at(-1) === 'clients' ? 'client_ids' : `keys of ${mapPath.join('.')}`
  const meet = segments.size === 1 ? `are ${keys.length === 2 ? 'both' : 'all'} ${[...segments][0]!} in a variable name` : 'meet in this variable name'
  const mapVariable = ENV_PREFIX + mapPath.map(envSegment).join('_')
  return `${source}: is ambiguous: it names ${listOf(targets.map((target) => target.path.join('.')))} (${label} ${listOf(keys.map((key) => `"${key}"`))} ${meet}); set the value in the file or in ${mapVariable}, or rename one of the ${label === 'client_ids' ? 'clients' : 'keys'}`
}

/** A setting's path with each placeholder replaced by every key or index the configuration holds there. */
function expand (config: JsonObject, path: readonly string[]): string[][] {
  let paths: string[][] = [[]]
  for (const segment of path) {
    paths = segment === MAP_KEY || segment === LIST_INDEX
      ? paths.flatMap((prefix) => entriesAt(config, prefix, segment).map((key) => [...prefix, key]))
      : paths.map((prefix) => [...prefix, segment])
  }
  return paths
}

/**
 * The configuration with every JARM_GATEWAY_* variable applied (the input is not changed). A map
 * or list variable (JARM_GATEWAY_CLIENTS, JARM_GATEWAY_ISSUERS) replaces the file's before the
 * per-entry variables apply, and those apply to the entries then present. Every variable name must
 * stand for one setting: the per-entry names are all derived before any is applied, and a set one
 * that two entries share is a problem (never applied to either).
 */
export async function applyEnvironmentOverrides (input: unknown, env: NodeJS.ProcessEnv, schema: ConfigSchema): Promise<{ config: unknown, problems: string[], applied: string[] }> {
  if (!isObject(input)) return { config: input, problems: [], applied: [] }
  const config = structuredClone(input)
  const problems: string[] = []
  const applied: string[] = []
  const apply = async (name: string, target: Target): Promise<void> => {
    const read = await readVariable(env, name)
    if (read === undefined) return
    if ('problem' in read) { problems.push(read.problem); return }
    const parsed = parseValue(read.text, target.setting.kind, read.fromFile)
    if ('problem' in parsed) { problems.push(`${read.source}: ${parsed.problem}`); return }
    setAt(config, target.path, parsed.value)
    applied.push(read.source)
  }
  // Per-entry names, in schema order, each with every setting it stands for.
  const entryTargets = new Map<string, Target[]>()
  for (const setting of environmentSettings(schema)) {
    const last = Math.max(setting.path.lastIndexOf(MAP_KEY), setting.path.lastIndexOf(LIST_INDEX))
    if (last === -1) {
      await apply(setting.name, { setting, path: setting.path })
      continue
    }
    for (const path of expand(config, setting.path)) {
      const name = ENV_PREFIX + path.map(envSegment).join('_')
      entryTargets.set(name, [...(entryTargets.get(name) ?? []), { setting, path, entry: { mapPath: path.slice(0, last), key: path[last]! } }])
    }
  }
  for (const [name, targets] of entryTargets) {
    if (targets.length === 1) {
      await apply(name, targets[0]!)
      continue
    }
    for (const source of [name, name + FILE_SUFFIX]) if (env[source] !== undefined) problems.push(ambiguity(source, targets))
  }
  return { config, problems, applied }
}
