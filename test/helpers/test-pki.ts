/**
 * Certificates made for a test run by Debian's openssl command (installed on every machine that runs
 * the suite; no npm certificate library is needed, and the files are exactly what an operator's own
 * openssl or cert-manager writes: PEM, EC P-256 keys, SANs). Everything lives in a temporary folder.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Issued {
  /** Paths of the PEM files. */
  readonly certFile: string
  readonly keyFile: string
  readonly cert: string
  readonly key: string
}

export interface IssueOptions {
  readonly dns?: string[]
  readonly ip?: string[]
  readonly uri?: string[]
  readonly email?: string[]
  readonly days?: number
  readonly usage?: 'server' | 'client'
  /** The subject in openssl's `-subj` form (`/C=DE/O=Acme/CN=app`, UTF-8); `/CN=<name>` by default. */
  readonly subject?: string
}

export interface CertificateAuthority extends Issued {
  readonly name: string
  /** A leaf certificate signed by this CA. `days` below 0 makes one that has already expired. */
  issue (name: string, options?: IssueOptions): Issued
}

export interface TestPki {
  readonly dir: string
  /** A new CA (self-signed, valid for two days). */
  authority (name: string): CertificateAuthority
  /** Removes every file. */
  remove (): void
}

function openssl (args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
const serial = (): string => `0x${Math.floor(Math.random() * 2 ** 48).toString(16)}`

export function createTestPki (): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'jarm-gateway-pki-'))
  let count = 0
  const files = (name: string): { certFile: string, keyFile: string } => {
    count += 1
    const base = join(dir, `${count}-${name.replace(/[^A-Za-z0-9.-]/g, '_')}`)
    return { certFile: `${base}.crt`, keyFile: `${base}.key` }
  }
  const read = (paths: { certFile: string, keyFile: string }): Issued => ({ ...paths, cert: readFileSync(paths.certFile, 'utf8'), key: readFileSync(paths.keyFile, 'utf8') })
  return {
    dir,
    authority (name) {
      const paths = files(name)
      openssl(['req', '-x509', ...KEY, '-keyout', paths.keyFile, '-out', paths.certFile, '-subj', `/CN=${name}`, '-days', '2', '-set_serial', serial(),
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
      const ca = read(paths)
      return {
        ...ca,
        name,
        issue (leaf, options = {}) {
          const out = files(leaf)
          const csr = `${out.certFile}.csr`
          const ext = `${out.certFile}.ext`
          openssl(['req', '-new', ...KEY, '-keyout', out.keyFile, '-out', csr, ...(options.subject === undefined ? ['-subj', `/CN=${leaf}`] : ['-utf8', '-subj', options.subject])])
          const names = [...(options.dns ?? []).map((d) => `DNS:${d}`), ...(options.ip ?? []).map((i) => `IP:${i}`),
            ...(options.uri ?? []).map((u) => `URI:${u}`), ...(options.email ?? []).map((e) => `email:${e}`)]
          writeFileSync(ext, [
            ...(names.length > 0 ? [`subjectAltName=${names.join(',')}`] : []),
            `extendedKeyUsage=${options.usage === 'client' ? 'clientAuth' : 'serverAuth'}`,
            'basicConstraints=CA:FALSE',
          ].join('\n') + '\n')
          openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', serial(), '-days', String(options.days ?? 2), '-extfile', ext, '-out', out.certFile])
          return read(out)
        },
      }
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
