/**
 * Does a client certificate name the client? `tls_client_auth` (RFC 8705 §2.1): the chain was
 * verified by TLS already; what is left is matching the one subject value the client registered
 * (§2.1.2: `tls_client_auth_subject_dn`, `_san_dns`, `_san_uri`, `_san_ip` or `_san_email`).
 *
 * Distinguished names (RFC 8705 says "the expected subject distinguished name ... as a string
 * representation as defined in RFC 4514") are compared as names, not strings: the same RDNs in the
 * same order (RFC 4514 writes the last RDN first, the certificate holds the first first), each RDN
 * the same set of attributes. Attribute types are case-insensitive, with the usual aliases and
 * dotted OIDs mapped to one name (`E`/`email` = `emailAddress`, `2.5.4.3` = `CN`, ...). Values are
 * compared after RFC 4514 unescaping (`\,` and `\2C` alike), Unicode NFC, outer whitespace trimmed,
 * inner runs collapsed to one space, case ignored: RFC 4517's caseIgnoreMatch, which the naming
 * attributes (CN, O, OU, L, ST, C, DC, ...) use. Not supported: a `#` BER hex value.
 *
 * The certificate side is read from Node's `X509Certificate.subject`: OpenSSL's RFC 2253 escaping,
 * one RDN a line, the attributes of a multi-valued RDN joined by ` + `; control characters are
 * escaped (`\0A`), so a value cannot fake a line. SANs come from `subjectAltName`, where Node
 * JSON-quotes any value that holds a comma or a quote. DNS names compare case-insensitively, IP
 * addresses as addresses (`2001:DB8:0:0:0:0:0:1` = `2001:db8::1`), e-mail addresses with the domain
 * case-insensitive, URIs byte for byte.
 */
import type { X509Certificate } from 'node:crypto'
import { isIP } from 'node:net'

/** The client's registered subject: exactly one field is set (tlsClientAuthProblem checks). */
export interface TlsClientAuthSubject {
  readonly tlsClientAuthSubjectDn?: string | undefined
  readonly tlsClientAuthSanDns?: string | undefined
  readonly tlsClientAuthSanUri?: string | undefined
  readonly tlsClientAuthSanIp?: string | undefined
  readonly tlsClientAuthSanEmail?: string | undefined
}

/** One RDN: its attributes as normalised `type=value` strings, sorted (their order does not count). */
type Name = readonly string[]

const TYPE_ALIASES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'cn',
  commonname: 'cn',
  '2.5.4.6': 'c',
  countryname: 'c',
  '2.5.4.7': 'l',
  localityname: 'l',
  '2.5.4.8': 'st',
  s: 'st',
  stateorprovincename: 'st',
  '2.5.4.9': 'street',
  streetaddress: 'street',
  '2.5.4.10': 'o',
  organizationname: 'o',
  '2.5.4.11': 'ou',
  organizationalunitname: 'ou',
  '2.5.4.5': 'serialnumber',
  '2.5.4.4': 'sn',
  surname: 'sn',
  '2.5.4.42': 'gn',
  givenname: 'gn',
  '2.5.4.97': 'organizationidentifier',
  '0.9.2342.19200300.100.1.25': 'dc',
  domaincomponent: 'dc',
  '0.9.2342.19200300.100.1.1': 'uid',
  userid: 'uid',
  '1.2.840.113549.1.9.1': 'emailaddress',
  email: 'emailaddress',
  e: 'emailaddress',
}

function attributeType (raw: string): string {
  const type = raw.trim().toLowerCase().replace(/^oid\./, '')
  return TYPE_ALIASES[type] ?? type
}

/** RFC 4514 §3 unescaping: `\` before a character is that character, before two hex digits a byte. */
function unescapeValue (raw: string): string | undefined {
  const bytes: number[] = []
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i]!
    if (char !== '\\') {
      bytes.push(...Buffer.from(char, 'utf8'))
      continue
    }
    const pair = raw.slice(i + 1, i + 3)
    if (/^[0-9A-Fa-f]{2}$/.test(pair)) {
      bytes.push(parseInt(pair, 16))
      i += 2
    } else if (i + 1 < raw.length) {
      bytes.push(...Buffer.from(raw[i + 1]!, 'utf8'))
      i += 1
    } else {
      return undefined
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(bytes))
  } catch {
    return undefined
  }
}

function normaliseValue (value: string): string {
  return value.normalize('NFC').replace(/\s+/gu, ' ').trim().toLowerCase()
}

/**
 * Splits at unescaped separators: `rdnSeparator` between RDNs, `+` between the attributes of one.
 * Undefined when any attribute is malformed (no `=`, no type, a dangling `\`, a `#` BER value).
 */
function parseName (text: string, rdnSeparator: string): Name[] | undefined {
  const rdns: string[][] = [[]]
  let current = ''
  const endAttribute = (): void => {
    rdns[rdns.length - 1]!.push(current)
    current = ''
  }
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!
    if (char === '\\') {
      current += text.slice(i, i + 2)
      i += 1
    } else if (char === '+') {
      endAttribute()
    } else if (char === rdnSeparator) {
      endAttribute()
      rdns.push([])
    } else {
      current += char
    }
  }
  endAttribute()
  const names: Name[] = []
  for (const rdn of rdns) {
    const attributes: string[] = []
    for (const attribute of rdn) {
      const equals = attribute.indexOf('=')
      const type = attributeType(attribute.slice(0, equals))
      // Trailing spaces go in normaliseValue, after unescaping: one may be escaped (`a\ `).
      const rawValue = attribute.slice(equals + 1).trimStart()
      const value = rawValue.startsWith('#') ? undefined : unescapeValue(rawValue)
      if (equals === -1 || type === '' || value === undefined) return undefined
      attributes.push(`${type}=${normaliseValue(value)}`)
    }
    names.push(attributes.sort())
  }
  return names
}

/** A registered RFC 4514 DN, most significant RDN first (as the certificate holds it), or undefined when malformed. */
function parseRegisteredDn (dn: string): Name[] | undefined {
  return parseName(dn, ',')?.reverse()
}

function sameName (a: readonly Name[], b: readonly Name[]): boolean {
  return a.length === b.length && a.every((rdn, i) => rdn.join('\0') === b[i]!.join('\0'))
}

/** Node's `subjectAltName`: `DNS:a, IP Address:10.0.0.1, URI:"https://x/a\u002cb"` into [type, value] pairs. */
export function subjectAltNames (certificate: X509Certificate): ReadonlyArray<readonly [type: string, value: string]> {
  const text = certificate.subjectAltName ?? ''
  const names: Array<[string, string]> = []
  let i = 0
  while (i < text.length) {
    const colon = text.indexOf(':', i)
    if (colon === -1) break
    const type = text.slice(i, colon)
    let end: number
    let value: string
    if (text[colon + 1] === '"') {
      end = colon + 2
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1
      end += 1
      try {
        value = JSON.parse(text.slice(colon + 1, end)) as string
      } catch {
        break // not Node's quoting: nothing after this can be trusted
      }
    } else {
      end = text.indexOf(', ', colon)
      if (end === -1) end = text.length
      value = text.slice(colon + 1, end)
    }
    names.push([type, value])
    i = end + 2
  }
  return names
}

/** An IP address in one spelling (IPv6 compressed and lowercase), or undefined when it is none. */
function canonicalIp (address: string): string | undefined {
  const version = isIP(address)
  if (version === 4) return address
  if (version === 6) return new URL(`http://[${address}]/`).hostname
  return undefined
}

function canonicalEmail (address: string): string {
  const at = address.lastIndexOf('@')
  return address.slice(0, at + 1) + address.slice(at + 1).toLowerCase()
}

function registeredFields (subject: TlsClientAuthSubject): Array<[keyof TlsClientAuthSubject, string]> {
  const keys = ['tlsClientAuthSubjectDn', 'tlsClientAuthSanDns', 'tlsClientAuthSanUri', 'tlsClientAuthSanIp', 'tlsClientAuthSanEmail'] as const
  return keys.flatMap((key) => subject[key] === undefined ? [] : [[key, subject[key]]])
}

/**
 * What is wrong with a client's tls_client_auth registration, for the config check, or undefined:
 * exactly one field (RFC 8705 §2.1.2), a DN that parses, an IP that is an address.
 */
export function tlsClientAuthProblem (subject: TlsClientAuthSubject): string | undefined {
  const fields = registeredFields(subject)
  if (fields.length !== 1) {
    return `exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email must be set, not ${fields.length}`
  }
  const [[key, value]] = fields as [[keyof TlsClientAuthSubject, string]]
  if (key === 'tlsClientAuthSubjectDn' && parseRegisteredDn(value) === undefined) return 'tls_client_auth_subject_dn must be an RFC 4514 distinguished name'
  if (key === 'tlsClientAuthSanIp' && canonicalIp(value) === undefined) return 'tls_client_auth_san_ip must be an IPv4 or IPv6 address'
  return undefined
}

/**
 * Whether the certificate holds the one registered subject value. Call only with a registration
 * tlsClientAuthProblem accepts (it throws otherwise: a configuration the check let through).
 */
export function certificateMatchesSubject (certificate: X509Certificate, subject: TlsClientAuthSubject): boolean {
  const problem = tlsClientAuthProblem(subject)
  if (problem !== undefined) throw new Error(`tls_client_auth registration: ${problem}`)
  const [[key, expected]] = registeredFields(subject) as [[keyof TlsClientAuthSubject, string]]
  const sans = (type: string): string[] => subjectAltNames(certificate).filter(([t]) => t === type).map(([, value]) => value)
  switch (key) {
    case 'tlsClientAuthSubjectDn': {
      const held = parseName(certificate.subject, '\n')
      return held !== undefined && sameName(held, parseRegisteredDn(expected)!)
    }
    case 'tlsClientAuthSanDns':
      return sans('DNS').some((name) => name.toLowerCase() === expected.toLowerCase())
    case 'tlsClientAuthSanUri':
      return sans('URI').includes(expected)
    case 'tlsClientAuthSanIp':
      return sans('IP Address').some((address) => canonicalIp(address) === canonicalIp(expected))
    case 'tlsClientAuthSanEmail':
      return sans('email').some((address) => canonicalEmail(address) === canonicalEmail(expected))
  }
}
