/**
 * The TLS files of the configuration (listen.tls, upstream.tls): read once per load (start-up and
 * every SIGHUP), checked for what a schema cannot say, every problem reported with its setting path.
 * What is checked: the file can be read and holds PEM of the right kind, a key matches its
 * certificate, a certificate is within its validity (a warning when it expires within
 * CERTIFICATE_EXPIRY_WARNING_DAYS). Problems name files and settings, never a file's contents.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'

/** A certificate that expires sooner than this is a warning at start-up, on reload and in --check-config. */
export const CERTIFICATE_EXPIRY_WARNING_DAYS = 14
const DAY_MS = 24 * 60 * 60 * 1000

export type ClientCertificatePolicy = 'none' | 'optional' | 'required'

export interface ListenTls {
  readonly certFile: string
  readonly keyFile: string
  readonly cert: Buffer
  readonly key: Buffer
  readonly clientCaFile?: string | undefined
  readonly clientCa?: Buffer | undefined
  readonly clientCertificates: ClientCertificatePolicy
  /** Lower case. */
  readonly clientCertificateHeader?: string | undefined
}

export interface UpstreamTls {
  readonly ca?: Buffer | undefined
  readonly cert?: Buffer | undefined
  readonly key?: Buffer | undefined
  readonly servername?: string | undefined
}

export interface RawListenTls { cert_file: string, key_file: string, client_ca_file?: string, client_certificates: ClientCertificatePolicy, client_certificate_header?: string }
export interface RawUpstreamTls { ca_file?: string, cert_file?: string, key_file?: string, servername?: string }

interface Findings { readonly problems: string[], readonly warnings: string[] }

async function readSetting (setting: string, file: string, findings: Findings): Promise<Buffer | undefined> {
  try {
    return await readFile(file)
  } catch (error) {
    findings.problems.push(`${setting}: cannot read ${file} (${(error as NodeJS.ErrnoException).code!})`)
    return undefined
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g

/** The certificates of a PEM file, in order; a problem when there is none or one cannot be read. */
function certificatesOf (setting: string, file: string, pem: Buffer, findings: Findings): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? []
  if (blocks.length === 0) {
    findings.problems.push(`${setting}: ${file} holds no PEM certificate`)
    return []
  }
  try {
    return blocks.map((block) => new X509Certificate(block))
  } catch {
    findings.problems.push(`${setting}: ${file} holds a certificate that cannot be read`)
    return []
  }
}

/** Expired or not yet valid: a problem (`strict`) or a warning; expiring soon: a warning. */
function checkValidity (setting: string, file: string, certificate: X509Certificate, now: number, strict: boolean, findings: Findings): void {
  const notAfter = new Date(certificate.validTo).getTime()
  const notBefore = new Date(certificate.validFrom).getTime()
  const subject = certificate.subject.replace(/\n/g, ', ')
  if (notAfter < now) {
    (strict ? findings.problems : findings.warnings).push(`${setting}: the certificate in ${file} (${subject}) expired on ${new Date(notAfter).toISOString()}`)
  } else if (notBefore > now) {
    (strict ? findings.problems : findings.warnings).push(`${setting}: the certificate in ${file} (${subject}) is not valid before ${new Date(notBefore).toISOString()}`)
  } else if (notAfter - now < CERTIFICATE_EXPIRY_WARNING_DAYS * DAY_MS) {
    findings.warnings.push(`${setting}: the certificate in ${file} (${subject}) expires on ${new Date(notAfter).toISOString()}, within ${CERTIFICATE_EXPIRY_WARNING_DAYS} days`)
  }
}

/** A certificate chain (leaf first) and its key: both readable, within validity, and matching. */
async function readPair (prefix: string, certFile: string, keyFile: string, now: number, findings: Findings): Promise<{ cert: Buffer, key: Buffer } | undefined> {
  const cert = await readSetting(`${prefix}.cert_file`, certFile, findings)
  const key = await readSetting(`${prefix}.key_file`, keyFile, findings)
  const chain = cert === undefined ? [] : certificatesOf(`${prefix}.cert_file`, certFile, cert, findings)
  for (const certificate of chain) checkValidity(`${prefix}.cert_file`, certFile, certificate, now, true, findings)
  let keyObject: KeyObject | undefined
  if (key !== undefined) {
    try {
      keyObject = createPrivateKey(key)
    } catch {
      findings.problems.push(`${prefix}.key_file: ${keyFile} holds no readable PEM private key (encrypted keys are not supported)`)
    }
  }
  if (chain[0] !== undefined && keyObject !== undefined && !chain[0].checkPrivateKey(keyObject)) {
    findings.problems.push(`${prefix}.key_file: the key in ${keyFile} does not match the certificate in ${prefix}.cert_file (${certFile})`)
  }
  return cert !== undefined && key !== undefined ? { cert, key } : undefined
}

/** A CA bundle: readable, at least one certificate; expired ones are warnings unless all are. */
async function readCaBundle (setting: string, file: string, now: number, findings: Findings): Promise<Buffer | undefined> {
  const pem = await readSetting(setting, file, findings)
  if (pem === undefined) return undefined
  const certificates = certificatesOf(setting, file, pem, findings)
  const expired = certificates.filter((certificate) => new Date(certificate.validTo).getTime() < now)
  for (const certificate of certificates) checkValidity(setting, file, certificate, now, certificates.length > 0 && expired.length === certificates.length, findings)
  return pem
}

export async function readListenTls (raw: RawListenTls | undefined, baseDir: string, context: { now: number, adminPort: number | undefined }, findings: Findings): Promise<ListenTls | undefined> {
  if (raw === undefined) return undefined
  const certFile = resolve(baseDir, raw.cert_file)
  const keyFile = resolve(baseDir, raw.key_file)
  const pair = await readPair('listen.tls', certFile, keyFile, context.now, findings)
  const clientCaFile = raw.client_ca_file === undefined ? undefined : resolve(baseDir, raw.client_ca_file)
  const clientCa = clientCaFile === undefined ? undefined : await readCaBundle('listen.tls.client_ca_file', clientCaFile, context.now, findings)
  if (raw.client_certificates !== 'none' && clientCaFile === undefined) {
    findings.problems.push(`listen.tls.client_certificates: "${raw.client_certificates}" needs listen.tls.client_ca_file (the CAs client certificates are verified against)`)
  }
  if (raw.client_certificate_header !== undefined && clientCaFile === undefined) {
    findings.problems.push('listen.tls.client_certificate_header: needs listen.tls.client_ca_file (only a verified client certificate is forwarded)')
  } else if (raw.client_certificate_header !== undefined && raw.client_certificates === 'none') {
    findings.warnings.push('listen.tls.client_certificate_header: listen.tls.client_certificates is "none", so no certificate is asked for and the header is only ever removed')
  }
  if (raw.client_certificates === 'required' && context.adminPort === undefined) {
    findings.warnings.push('listen.tls.client_certificates: "required" on the main port also applies to /healthz and /readyz; probes and --health-check need observability.admin_port')
  }
  if (pair === undefined) return undefined
  return Object.freeze({
    certFile,
    keyFile,
    cert: pair.cert,
    key: pair.key,
    clientCaFile,
    clientCa,
    clientCertificates: raw.client_certificates,
    clientCertificateHeader: raw.client_certificate_header?.toLowerCase(),
  })
}

export async function readUpstreamTls (raw: RawUpstreamTls | undefined, url: string, baseDir: string, now: number, findings: Findings): Promise<UpstreamTls | undefined> {
  const https = url.startsWith('https:')
  if (raw === undefined) return undefined
  if (!https) findings.problems.push('upstream.tls: needs an https:// upstream.url')
  const ca = raw.ca_file === undefined ? undefined : await readCaBundle('upstream.tls.ca_file', resolve(baseDir, raw.ca_file), now, findings)
  if ((raw.cert_file === undefined) !== (raw.key_file === undefined)) {
    findings.problems.push(raw.cert_file === undefined ? 'upstream.tls.cert_file: is required with upstream.tls.key_file' : 'upstream.tls.key_file: is required with upstream.tls.cert_file')
  }
  const pair = raw.cert_file === undefined || raw.key_file === undefined ? undefined : await readPair('upstream.tls', resolve(baseDir, raw.cert_file), resolve(baseDir, raw.key_file), now, findings)
  return Object.freeze({ ca, cert: pair?.cert, key: pair?.key, servername: raw.servername })
}

/** Whether two upstream TLS settings are the same, contents included (a file rotated in place is a change). */
export function sameUpstreamTls (a: UpstreamTls | undefined, b: UpstreamTls | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  const same = (x: Buffer | undefined, y: Buffer | undefined): boolean => x === undefined || y === undefined ? x === y : x.equals(y)
  return same(a.ca, b.ca) && same(a.cert, b.cert) && same(a.key, b.key) && a.servername === b.servername
}
