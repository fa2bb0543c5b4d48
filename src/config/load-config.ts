/**
 * Configuration: read once, validated against the shipped JSON Schema (the one source of truth for
 * names, types and defaults), checked for what a schema cannot say (keys, algorithms), every problem
 * reported with its path in one error, then frozen.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { Ajv, type ErrorObject } from 'ajv'
import type { JarmResponseMode, UpstreamResponseModePreference } from '../authorization-request/response-mode.js'
import { generateSigningKey, KeyRing, loadSigningKeys, type DecryptionKey, type SigningKey } from '../keys/signing-keys.js'
import { SYMMETRIC_ALGS, type AsymmetricAlg, type SigningAlg, type SymmetricAlg } from '../jarm/sign-jwt.js'
import { fixedVerificationKeys, importClientJwks, RemoteClientKeys } from '../keys/client-keys.js'
import type { VerificationKeySource } from '../keys/verification-keys.js'
import { clientEncryption, clientSecretProblem, refusedAlgorithms, type ClientEncryption, type RawClientSecurity } from './client-security.js'
import { applyEnvironmentOverrides, type ConfigSchema } from './environment-overrides.js'
import { packageRoot } from './package-root.js'
import { readListenTls, readUpstreamTls, type ListenTls, type RawListenTls, type RawUpstreamTls, type UpstreamTls } from '../tls/tls-files.js'

export const CONFIG_SCHEMA_PATH = join(packageRoot(), 'schema', 'gateway.config.schema.json')

export interface ClientConfig {
  readonly authorizationSignedResponseAlg: SigningAlg
  readonly clientSecret?: string | undefined
  readonly redirectUris: readonly string[]
  /** Set when the client's responses are encrypted (nested JWT). */
  readonly encryption?: ClientEncryption | undefined
  /** RFC 9101 §10.5: the only algorithm its request objects may use. */
  readonly requestObjectSigningAlg?: SigningAlg | undefined
  readonly requireSignedRequestObject: boolean
  readonly requirePushedAuthorizationRequests: boolean
  /** How it authenticates at a PAR endpoint the gateway serves. */
  readonly tokenEndpointAuthMethod?: TokenEndpointAuthMethod | undefined
  /** RFC 8705 §2.1.2: the one certificate field registered for tls_client_auth, and its value. */
  readonly tlsClientAuth?: { readonly field: TlsClientAuthField, readonly value: string } | undefined
  /** The response modes it may use; undefined: any. */
  readonly responseModes?: ReadonlySet<string> | undefined
  /** Its public signature keys (`jwks` or `jwks_uri`): its request objects and client assertions are verified with them. */
  readonly verificationKeys?: VerificationKeySource | undefined
}

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'tls_client_auth'
export const TLS_CLIENT_AUTH_FIELDS = ['tls_client_auth_subject_dn', 'tls_client_auth_san_dns', 'tls_client_auth_san_uri', 'tls_client_auth_san_ip', 'tls_client_auth_san_email'] as const
export type TlsClientAuthField = typeof TLS_CLIENT_AUTH_FIELDS[number]

/** What happens to a JWT-mode request from a client that is not listed in `clients`. */
export type UnlistedClientPolicy = 'sign' | 'refuse'

/** Stands for one path segment in an issuer of `issuers`: every issuer of that shape. */
export const TENANT_PLACEHOLDER = '{tenant}'

/** One issuer of the legacy server (or, with `{tenant}`, every issuer of one shape). */
export interface IssuerConfig {
  /** Exact; a template holds `{tenant}` once; undefined in the shorthand without `issuer` (the legacy server's own). */
  readonly issuer: string | undefined
  readonly template: boolean
  readonly discoveryPath?: string | undefined
  readonly authorizationEndpoint?: string | undefined
  /** The shared keys, or the entry's own. */
  readonly keyRing: KeyRing
  /** The top-level clients with the entry's own added or overriding (a client_id is unique within one issuer only). */
  readonly clients: ReadonlyMap<string, ClientConfig>
}

export interface GatewayConfig {
  readonly listen: {
    readonly host: string
    readonly port: number
    readonly drainTimeoutMs: number
    /** Set: the port serves HTTPS only (src/tls/listen-tls.ts). */
    readonly tls?: ListenTls | undefined
  }
  readonly upstream: {
    readonly url: string
    readonly timeoutMs: number
    readonly responseMode: UpstreamResponseModePreference
    readonly discoveryPath?: string | undefined
    readonly authorizationEndpoint?: string | undefined
    /** For an https:// url: the CA, client certificate and name to verify (src/tls/upstream-tls.ts). */
    readonly tls?: UpstreamTls | undefined
  }
  readonly issuer?: string | undefined
  /**
   * Every issuer the gateway fronts, in the configured order. From the `issuer` shorthand: one,
   * which every path belongs to (as before `issuers` existed); from `issuers`: a request is routed
   * to one by its path (src/issuers/).
   */
  readonly issuers: readonly IssuerConfig[]
  /** Whether `issuers` was given (paths that match no issuer then pass through untouched). */
  readonly routesByPath: boolean
  /** The shared keys (the issuers' without keys of their own). */
  readonly keyRing: KeyRing
  /** The top-level clients (every issuer's, unless it overrides one). */
  readonly clients: ReadonlyMap<string, ClientConfig>
  readonly defaultSignedResponseAlg: AsymmetricAlg
  readonly unlistedClients: UnlistedClientPolicy
  readonly responseTtlSeconds: number
  readonly responseModes: ReadonlySet<JarmResponseMode>
  readonly state: { readonly secrets: readonly string[], readonly ttlSeconds: number, readonly ephemeral: boolean, readonly bindToBrowser: boolean }
  /** Origins clients reach the gateway under, besides the issuer's (normalised: `URL.origin`). */
  readonly publicOrigins: readonly string[]
  readonly extraResponseParameters: ReadonlySet<string>
  /** Verified request objects (RFC 9101): how they go on to the legacy server. */
  readonly requestObjects: { readonly forward: 'parameters' | 'resigned', readonly resignedLifetimeSeconds: number, readonly clockToleranceSeconds: number }
  /** Who serves PAR (RFC 9126), and how long the gateway's request_uris live. */
  readonly pushedAuthorizationRequests: { readonly serve: 'auto' | 'upstream' | 'gateway', readonly ttlSeconds: number }
  /** Where one-time use is recorded: this process, or a Redis every replica shares. */
  readonly replayStore: { readonly url?: string | undefined, readonly commandTimeoutMs: number }
  readonly limits: { readonly authorizationRequestBytes: number, readonly capturedPageBytes: number, readonly metadataBytes: number, readonly tenants: number }
  readonly trustForwardedHeaders: boolean
  readonly observability: ObservabilityConfig
  /** Things an operator must hear about at start-up (ephemeral keys or secrets). */
  readonly warnings: readonly string[]
}

export interface ObservabilityConfig {
  readonly healthPath: string
  readonly readyPath: string
  readonly metricsPath: string
  /** When set, the three paths are served on this port only. */
  readonly adminPort?: number | undefined
  readonly adminHost: string
  readonly readyTimeoutMs: number
}

/** Every problem in a configuration, each with its path. */
export class ConfigError extends Error {
  readonly code = 'invalid_config'
  readonly problems: readonly string[]
  constructor (problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

interface RawClient extends RawClientSecurity, Partial<Record<TlsClientAuthField, string>> {
  authorization_signed_response_alg?: SigningAlg
  redirect_uris?: string[]
  request_object_signing_alg?: SigningAlg
  require_signed_request_object: boolean
  require_pushed_authorization_requests: boolean
  token_endpoint_auth_method?: TokenEndpointAuthMethod
  response_modes?: string[]
}
type RawKeys = string | { keys: unknown[] }
interface RawIssuer { issuer: string, discovery_path?: string, authorization_endpoint?: string, keys?: RawKeys, clients?: Record<string, RawClient> }
interface RawConfig {
  listen: { host: string, port: number, drain_timeout_ms: number, tls?: RawListenTls }
  upstream: { url: string, timeout_ms: number, response_mode: UpstreamResponseModePreference, discovery_path?: string, authorization_endpoint?: string, tls?: RawUpstreamTls }
  issuer?: string
  issuers?: RawIssuer[]
  keys?: RawKeys
  clients: Record<string, RawClient>
  default_signed_response_alg: AsymmetricAlg
  unlisted_clients: UnlistedClientPolicy
  client_jwks_uri: { timeout_ms: number, max_bytes: number, cache_seconds: number, min_refetch_seconds: number }
  response_ttl_seconds: number
  response_modes: JarmResponseMode[]
  state: { secrets?: string[], ttl_seconds: number, bind_to_browser: boolean }
  public_origins: string[]
  extra_response_parameters: string[]
  request_objects: { forward: 'parameters' | 'resigned', resigned_lifetime_seconds: number, clock_tolerance_seconds: number }
  pushed_authorization_requests: { serve: 'auto' | 'upstream' | 'gateway', ttl_seconds: number }
  replay_store: { url?: string, command_timeout_ms: number }
  limits: { authorization_request_bytes: number, captured_page_bytes: number, metadata_bytes: number, tenants: number }
  trust_forwarded_headers: boolean
  observability: { health_path: string, ready_path: string, metrics_path: string, admin_port?: number, admin_host?: string, ready_timeout_ms: number }
}

export const CONFIG_SCHEMA = JSON.parse(readFileSync(CONFIG_SCHEMA_PATH, 'utf8')) as ConfigSchema
// useDefaults fills every documented default in place; the objects that hold defaults must exist first.
const validate = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile<RawConfig>(CONFIG_SCHEMA)

/** `/clients/app1/redirect_uris/0` → `clients.app1.redirect_uris[0]` */
function pathOf (error: ErrorObject): string {
  const segments = error.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
  if (error.keyword === 'required') segments.push((error.params as { missingProperty: string }).missingProperty)
  if (error.keyword === 'additionalProperties') segments.push((error.params as { additionalProperty: string }).additionalProperty)
  return segments.reduce((path, segment) => /^\d+$/.test(segment) ? `${path}[${segment}]` : path === '' ? segment : `${path}.${segment}`, '') || '(root)'
}

function describe (error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') return 'is not a known setting'
  if (error.keyword === 'required') return 'is required'
  if (error.keyword === 'enum') return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
  return error.message!
}

function schemaProblems (errors: readonly ErrorObject[]): string[] {
  // oneOf reports each failed branch and then itself; the summary line is the useful one.
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath))
  const problems = errors
    .filter((e) => e.keyword === 'oneOf' || !oneOfPaths.has(e.instancePath))
    .map((e) => e.keyword === 'oneOf' ? `${pathOf(e)}: must be a path to a JWKS file or an inline JWKS object` : `${pathOf(e)}: ${describe(e)}`)
  return [...new Set(problems)]
}

async function readKeys (keys: RawKeys, baseDir: string, at: string): Promise<{ jwks: unknown, problems: string[] }> {
  if (typeof keys !== 'string') return { jwks: keys, problems: [] }
  const file = resolve(baseDir, keys)
  try {
    return { jwks: JSON.parse(await readFile(file, 'utf8')), problems: [] }
  } catch (error) {
    return { jwks: undefined, problems: [`${at}: cannot read a JWKS from ${file} (${(error as Error).message})`] }
  }
}

/** The signing keys a `keys` setting names, or its problems (each with the setting's path). */
async function loadKeys (keys: RawKeys, baseDir: string, at: string): Promise<{ keys: SigningKey[], decryptionKeys: DecryptionKey[], problems: string[] }> {
  const { jwks, problems } = await readKeys(keys, baseDir, at)
  if (problems.length > 0) return { keys: [], decryptionKeys: [], problems }
  return loadSigningKeys(jwks, at)
}

/**
 * What a client's authentication at a PAR endpoint the gateway serves needs (RFC 7591 §2, RFC 8705
 * §2.1.2): its secret, its public keys, or exactly one certificate field and client certificates
 * asked for on the listening port.
 */
function clientAuthenticationProblems (client: RawClient, at: string, clientCertificates: string | undefined): string[] {
  const fields = TLS_CLIENT_AUTH_FIELDS.filter((field) => client[field] !== undefined)
  const problems: string[] = []
  const method = client.token_endpoint_auth_method
  if (method !== 'tls_client_auth' && fields.length > 0) problems.push(`${at}.${fields[0]!}: is only used with token_endpoint_auth_method tls_client_auth`)
  if ((method === 'client_secret_basic' || method === 'client_secret_post') && client.client_secret === undefined) problems.push(`${at}.client_secret: is required for token_endpoint_auth_method ${method}`)
  if (method === 'private_key_jwt' && client.jwks === undefined && client.jwks_uri === undefined) problems.push(`${at}.jwks: a jwks or jwks_uri with the client's public signature key is required for token_endpoint_auth_method private_key_jwt`)
  if (method === 'tls_client_auth') {
    if (fields.length !== 1) problems.push(`${at}.token_endpoint_auth_method: tls_client_auth needs exactly one of ${TLS_CLIENT_AUTH_FIELDS.join(', ')} (RFC 8705 §2.1.2)`)
    if (clientCertificates === undefined || clientCertificates === 'none') problems.push(`${at}.token_endpoint_auth_method: tls_client_auth needs listen.tls with client_certificates optional or required`)
  }
  return problems
}

/** Problems with an issuer of `issuers` that the schema cannot see: `{tenant}` as one whole path segment, at most once. */
function issuerProblems (issuer: string, at: string): string[] {
  const count = issuer.split(TENANT_PLACEHOLDER).length - 1
  const segments = issuer.replace(/^https?:\/\/[^/]*/, '').split('/')
  const otherBraces = /[{}]/.test(issuer.replaceAll(TENANT_PLACEHOLDER, ''))
  if (!otherBraces && (count === 0 || (count === 1 && segments.includes(TENANT_PLACEHOLDER)))) return []
  return [`${at}: ${TENANT_PLACEHOLDER} is the only placeholder, and stands once for a whole path segment (https://host/realms/${TENANT_PLACEHOLDER})`]
}

/**
 * Validates a parsed configuration object. `baseDir` resolves relative paths (the config file's
 * folder). Throws ConfigError with every problem found.
 */
export async function buildConfig (input: unknown, baseDir: string, now: () => number = Date.now): Promise<GatewayConfig> {
  const raw = structuredClone(input) as RawConfig
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    for (const section of ['listen', 'state', 'limits', 'observability', 'client_jwks_uri', 'request_objects', 'pushed_authorization_requests', 'replay_store'] as const) raw[section] ??= {} as never
    raw.clients ??= {}
  }
  if (!validate(raw)) {
    // `alg: none` gets its own message naming the client and the reason, instead of the enum's.
    const refused = refusedAlgorithms(raw)
    const others = schemaProblems(validate.errors!).filter((problem) => !refused.has(problem.slice(0, problem.indexOf(':'))))
    throw new ConfigError([...refused.values(), ...others])
  }

  const problems: string[] = []
  const warnings: string[] = []
  let keys: SigningKey[] = []
  let decryptionKeys: DecryptionKey[] = []
  if (raw.keys !== undefined) {
    const loaded = await loadKeys(raw.keys, baseDir, 'keys')
    problems.push(...loaded.problems)
    keys = loaded.keys
    decryptionKeys = loaded.decryptionKeys
  }
  const sharedKeyProblems = problems.length
  if (raw.issuer !== undefined && raw.issuers !== undefined) problems.push('issuer, issuers: give one of them (issuer is the one-issuer shorthand of issuers)')
  for (const name of ['discovery_path', 'authorization_endpoint'] as const) {
    if (raw.issuers !== undefined && raw.upstream[name] !== undefined) problems.push(`upstream.${name}: is per issuer when issuers is set (issuers[n].${name})`)
  }

  const remoteKeys = {
    timeoutMs: raw.client_jwks_uri.timeout_ms,
    maxBytes: raw.client_jwks_uri.max_bytes,
    cacheMs: raw.client_jwks_uri.cache_seconds * 1000,
    minRefetchMs: raw.client_jwks_uri.min_refetch_seconds * 1000,
  }
  const buildClients = (entries: Record<string, RawClient>, at: string): Map<string, ClientConfig> => {
    const built = new Map<string, ClientConfig>()
    for (const [clientId, client] of Object.entries(entries)) {
      const alg = client.authorization_signed_response_alg ?? raw.default_signed_response_alg
      if ((SYMMETRIC_ALGS as readonly string[]).includes(alg) && client.client_secret === undefined) problems.push(`${at}.${clientId}.client_secret: is required for authorization_signed_response_alg ${alg}`)
      const secretProblem = clientSecretProblem(clientId, client.client_secret, alg, client.authorization_encrypted_response_alg, at)
      if (secretProblem !== undefined) problems.push(secretProblem)
      const { encryption, problems: encryptionProblems } = clientEncryption(clientId, client, remoteKeys, at)
      problems.push(...encryptionProblems)
      problems.push(...clientAuthenticationProblems(client, `${at}.${clientId}`, raw.listen.tls?.client_certificates))
      const tlsField = TLS_CLIENT_AUTH_FIELDS.find((field) => client[field] !== undefined)
      const inline = client.jwks === undefined ? undefined : importClientJwks(client.jwks, `${at}.${clientId}.jwks`)
      // The encryption settings report the JWKS's problems when they use it; else they are reported here.
      if (inline !== undefined && client.authorization_encrypted_response_alg === undefined) problems.push(...inline.problems)
      const verificationKeys = client.jwks_uri !== undefined
        ? new RemoteClientKeys(clientId, client.jwks_uri, remoteKeys)
        : inline === undefined ? undefined : fixedVerificationKeys(inline.keys)
      built.set(clientId, Object.freeze({
        authorizationSignedResponseAlg: alg,
        clientSecret: client.client_secret,
        redirectUris: Object.freeze([...(client.redirect_uris ?? [])]),
        encryption,
        requestObjectSigningAlg: client.request_object_signing_alg,
        requireSignedRequestObject: client.require_signed_request_object,
        requirePushedAuthorizationRequests: client.require_pushed_authorization_requests,
        tokenEndpointAuthMethod: client.token_endpoint_auth_method,
        tlsClientAuth: tlsField === undefined ? undefined : Object.freeze({ field: tlsField, value: client[tlsField]! }),
        responseModes: client.response_modes === undefined ? undefined : new Set(client.response_modes),
        verificationKeys,
      }))
    }
    return built
  }
  const clients = buildClients(raw.clients, 'clients')

  /** Each key ring with the clients it must sign for, by their config paths: the shared ring first. */
  interface RingPlan { keys: SigningKey[] | undefined, decryptionKeys: DecryptionKey[], at: string, users: Array<[string, ClientConfig]>, keyProblems: number }
  const shared: RingPlan = { keys: raw.keys === undefined ? undefined : keys, decryptionKeys, at: 'keys', users: [...clients].map(([id, c]) => [`clients.${id}`, c]), keyProblems: sharedKeyProblems }
  const plans: RingPlan[] = [shared]
  const entries: Array<{ raw: RawIssuer, clients: ReadonlyMap<string, ClientConfig>, plan: RingPlan }> = []
  // A request is routed to its issuer by its path alone, fixed segments compared without case (so no
  // spelling walks past a rewrite): two issuers whose paths meet so (one.example and two.example, or
  // /realms/a and /realms/A) could not be told apart, and one's flows would be sealed as the other's.
  const pathsSeen = new Map<string, string>()
  for (const [index, entry] of (raw.issuers ?? []).entries()) {
    const at = `issuers[${index}]`
    problems.push(...issuerProblems(entry.issuer, `${at}.issuer`))
    const routedBy = entry.issuer.replace(/^https?:\/\/[^/]*/, '').replace(/\/+$/, '').toLowerCase()
    const before = pathsSeen.get(routedBy)
    if (before !== undefined) problems.push(`${at}.issuer: has the path of ${before} (issuers are routed by path, compared without case): issuers told apart only by host or by case cannot share one gateway; run one gateway per host`)
    else pathsSeen.set(routedBy, `${at}.issuer`)
    const own = buildClients(entry.clients ?? {}, `${at}.clients`)
    let plan = shared
    if (entry.keys !== undefined) {
      const before = problems.length
      const loaded = await loadKeys(entry.keys, baseDir, `${at}.keys`)
      problems.push(...loaded.problems)
      plan = { keys: loaded.keys, decryptionKeys: loaded.decryptionKeys, at: `${at}.keys`, users: [...clients].map(([id, c]) => [`clients.${id}`, c]), keyProblems: problems.length - before }
      plans.push(plan)
    }
    plan.users.push(...[...own].map(([id, c]): [string, ClientConfig] => [`${at}.clients.${id}`, c]))
    entries.push({ raw: entry, clients: new Map([...clients, ...own]), plan })
  }

  const rings = new Map<RingPlan, KeyRing>()
  for (const plan of plans) {
    const neededAlgs = new Set<AsymmetricAlg>([raw.default_signed_response_alg])
    for (const [, client] of plan.users) if (!(SYMMETRIC_ALGS as readonly string[]).includes(client.authorizationSignedResponseAlg)) neededAlgs.add(client.authorizationSignedResponseAlg as AsymmetricAlg)
    if (plan.keys === undefined && plan === shared && entries.length > 0 && entries.every((entry) => entry.plan !== shared)) {
      // Every issuer has keys of its own: nothing signs with shared ones.
      plan.keys = []
    } else if (plan.keys === undefined) {
      plan.keys = []
      for (const alg of neededAlgs) plan.keys.push(await generateSigningKey(alg))
      warnings.push(`no "keys" configured: signing with ephemeral keys (${[...neededAlgs].join(', ')}) made at start-up; they change at every restart and differ between replicas, so responses cannot be verified after a restart. Configure "keys" for anything but a demo.`)
    } else if (plan.keyProblems === 0) {
      // Client problems do not hide key problems: which algorithms lack a key is checked whenever the keys loaded.
      const ring = new KeyRing(plan.keys)
      for (const alg of neededAlgs) {
        if (ring.keyFor(alg) !== undefined) continue
        const users = plan.users.filter(([, c]) => c.authorizationSignedResponseAlg === alg).map(([path]) => path)
        if (alg === raw.default_signed_response_alg) users.push('default_signed_response_alg')
        problems.push(`${users.join(', ')}: no key in "${plan.at}" can sign ${alg}; add a key with "alg": "${alg}"`)
      }
    }
    rings.set(plan, new KeyRing(plan.keys, plan.decryptionKeys))
  }
  const keyRing = rings.get(shared)!

  let secrets = raw.state.secrets
  const ephemeralSecret = secrets === undefined
  if (secrets === undefined) {
    secrets = [randomBytes(32).toString('base64url')]
    warnings.push('no "state.secrets" configured: flows are sealed with a secret made at start-up, so flows in progress fail after a restart and cannot be finished by another replica.')
  }

  raw.public_origins.forEach((origin, i) => { if (!URL.canParse(origin)) problems.push(`public_origins[${i}]: is not a URL origin`) })
  const tlsFindings = { problems, warnings }
  const listenTls = await readListenTls(raw.listen.tls, baseDir, { now: now(), adminPort: raw.observability.admin_port }, tlsFindings)
  const upstreamTls = await readUpstreamTls(raw.upstream.tls, raw.upstream.url, baseDir, now(), tlsFindings)

  if (problems.length > 0) throw new ConfigError(problems)

  return Object.freeze({
    listen: Object.freeze({ host: raw.listen.host, port: raw.listen.port, drainTimeoutMs: raw.listen.drain_timeout_ms, tls: listenTls }),
    upstream: Object.freeze({
      url: raw.upstream.url.replace(/\/$/, ''),
      timeoutMs: raw.upstream.timeout_ms,
      responseMode: raw.upstream.response_mode,
      discoveryPath: raw.upstream.discovery_path,
      authorizationEndpoint: raw.upstream.authorization_endpoint,
      tls: upstreamTls,
    }),
    issuer: raw.issuer,
    issuers: Object.freeze(raw.issuers === undefined
      ? [Object.freeze({ issuer: raw.issuer, template: false, discoveryPath: raw.upstream.discovery_path, authorizationEndpoint: raw.upstream.authorization_endpoint, keyRing, clients })]
      : entries.map(({ raw: entry, clients: merged, plan }) => Object.freeze({
        issuer: entry.issuer,
        template: entry.issuer.includes(TENANT_PLACEHOLDER),
        discoveryPath: entry.discovery_path,
        authorizationEndpoint: entry.authorization_endpoint,
        keyRing: rings.get(plan)!,
        clients: merged,
      }))),
    routesByPath: raw.issuers !== undefined,
    keyRing,
    clients,
    defaultSignedResponseAlg: raw.default_signed_response_alg,
    unlistedClients: raw.unlisted_clients,
    responseTtlSeconds: raw.response_ttl_seconds,
    responseModes: new Set(raw.response_modes),
    state: Object.freeze({ secrets: Object.freeze([...secrets]), ttlSeconds: raw.state.ttl_seconds, ephemeral: ephemeralSecret, bindToBrowser: raw.state.bind_to_browser }),
    publicOrigins: Object.freeze(raw.public_origins.map((origin) => new URL(origin).origin)),
    extraResponseParameters: new Set(raw.extra_response_parameters),
    requestObjects: Object.freeze({ forward: raw.request_objects.forward, resignedLifetimeSeconds: raw.request_objects.resigned_lifetime_seconds, clockToleranceSeconds: raw.request_objects.clock_tolerance_seconds }),
    pushedAuthorizationRequests: Object.freeze({ serve: raw.pushed_authorization_requests.serve, ttlSeconds: raw.pushed_authorization_requests.ttl_seconds }),
    replayStore: Object.freeze({ url: raw.replay_store.url, commandTimeoutMs: raw.replay_store.command_timeout_ms }),
    limits: Object.freeze({
      authorizationRequestBytes: raw.limits.authorization_request_bytes,
      capturedPageBytes: raw.limits.captured_page_bytes,
      metadataBytes: raw.limits.metadata_bytes,
      tenants: raw.limits.tenants,
    }),
    trustForwardedHeaders: raw.trust_forwarded_headers,
    observability: Object.freeze({
      healthPath: raw.observability.health_path,
      readyPath: raw.observability.ready_path,
      metricsPath: raw.observability.metrics_path,
      adminPort: raw.observability.admin_port,
      adminHost: raw.observability.admin_host ?? raw.listen.host,
      readyTimeoutMs: raw.observability.ready_timeout_ms,
    }),
    warnings: Object.freeze(warnings),
  })
}

/**
 * Reads a configuration file, applies the JARM_GATEWAY_* environment overrides, and validates the
 * result (so a value from the environment is checked like one from the file).
 */
export async function loadConfigFile (file: string, env: NodeJS.ProcessEnv = process.env): Promise<GatewayConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new ConfigError([`${file}: cannot be read (${(error as NodeJS.ErrnoException).code!})`])
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new ConfigError([`${file}: is not valid JSON (${(error as Error).message})`])
  }
  const overridden = await applyEnvironmentOverrides(parsed, env, CONFIG_SCHEMA)
  if (overridden.problems.length > 0) throw new ConfigError(overridden.problems)
  return buildConfig(overridden.config, dirname(resolve(file)))
}

/** The algorithms the gateway can sign with for an issuer (published in its discovery). */
export function signingAlgorithms (issuer: Pick<IssuerConfig, 'keyRing' | 'clients'>): Array<AsymmetricAlg | SymmetricAlg> {
  const withSecret = [...issuer.clients.values()].some((client) => client.clientSecret !== undefined)
  return [...issuer.keyRing.algorithms, ...(withSecret ? SYMMETRIC_ALGS : [])]
}
