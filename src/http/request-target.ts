/**
 * The request target (RFC 9112 §3.2) and Host the gateway routes on: what a request asks for comes
 * from its target alone, in origin-form, before anything looks at it. Pure.
 */
import { isIPv6 } from 'node:net'
import { GatewayError } from '../errors.js'
import { rememberedAnswers } from '../remembered-answers.js'

/** The path, without the query. */
export function pathOf (target: string): string {
  const queryAt = target.indexOf('?')
  return queryAt === -1 ? target : target.slice(0, queryAt)
}

/** The query, without its `?` (empty when there is none). */
export function queryOf (target: string): string {
  const queryAt = target.indexOf('?')
  return queryAt === -1 ? '' : target.slice(queryAt + 1)
}

/** A request target in the form the gateway forwards and routes on. */
export interface RequestTarget {
  /** origin-form (`/path?query`), or `*` for `OPTIONS *`. */
  readonly target: string
  readonly path: string
  readonly query: string
  /** The Host the request is for: an absolute-form target's authority, else the Host field; undefined when there is neither (HTTP/1.0). */
  readonly host: string | undefined
}

/** `http://authority/rest` or `https://...`: schemes are case-insensitive (RFC 3986 §3.1). */
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)(.*)$/is

const invalidTarget = (message: string): GatewayError => new GatewayError('invalid_request_target', message)

/**
 * The target normalised to origin-form, with the Host it is for, or the refusal.
 * - origin-form (`/...`) is taken as it is; a fragment is not part of any request target.
 * - absolute-form (`http://host/...`, what a client sends a proxy) becomes origin-form and its
 *   authority replaces Host (RFC 9112 §3.2.2), so `GET http://gw/authorize?...` is the authorization
 *   request it is; userinfo is refused (RFC 9110 §4.2.4), like an empty or invalid host.
 * - asterisk-form is only for OPTIONS (RFC 9112 §3.2.4); authority-form only for CONNECT, which
 *   a reverse proxy does not serve (Node's server does not hand it here).
 * - Host: at most one field line, with a valid value (RFC 9112 §3.2: else 400). Node requires one
 *   on HTTP/1.1; HTTP/1.0 may go without.
 * `rawHeaders` are Node's (name, value, name, value, ...): Node keeps only the first of two Hosts.
 */
export function readRequestTarget (method: string, target: string, rawHeaders: readonly string[]): RequestTarget | GatewayError {
  let host: string | undefined
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    if (name.length !== 4 || name.toLowerCase() !== 'host') continue
    if (host !== undefined) return new GatewayError('invalid_host', 'the request has more than one Host header')
    host = rawHeaders[i + 1]!
  }
  if (host !== undefined && !isValidHost(host)) return new GatewayError('invalid_host', 'the Host header must be a host name, an IPv4 address or a bracketed IPv6 address, with an optional port')
  if (target === '*') {
    if (method !== 'OPTIONS') return invalidTarget('the request target * is only for OPTIONS')
    return { target, path: target, query: '', host }
  }
  let originForm = target
  if (!target.startsWith('/')) {
    const absolute = ABSOLUTE_FORM.exec(target)
    if (absolute === null) return invalidTarget('the request target must be a path or an absolute http(s) URL')
    const [, authority, rest] = absolute as unknown as [string, string, string]
    if (authority.includes('@')) return invalidTarget('the request target must not carry user information')
    if (!isValidHost(authority)) return invalidTarget('the request target must name a valid host')
    originForm = rest.startsWith('/') ? rest : `/${rest}`
    host = authority
  }
  if (originForm.includes('#')) return invalidTarget('the request target must not carry a fragment')
  // `//host/path` is an absolute-path to RFC 9112, but a server that parses its target as a URL
  // reference (WHATWG `new URL(target, base)`) reads `host` as an authority and routes on `/path`,
  // while the gateway's canonical path is `/host/path`: no client needs it, so it is refused.
  if (originForm.startsWith('//')) return invalidTarget('the request target must not begin with //')
  return { target: originForm, path: pathOf(originForm), query: queryOf(originForm), host }
}

/**
 * RFC 3986 §3.2.2 reg-name, without percent-encoding: a DNS name never needs one, and a decoded
 * escape lets one Host be spelled as another (the WHATWG URL parser decodes it, a legacy server may
 * not).
 */
const REG_NAME = /^[A-Za-z0-9\-._~!$&'()*+,;=]+$/
/** RFC 3986 §3.2.2 dec-octet, four of them. */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/
/** A label the WHATWG URL parser reads as a number (`1`, `0x7f`): then the host is an IPv4 address or nothing. */
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/i

/**
 * Is `value` an RFC 3986 §3.2.2 authority without userinfo: reg-name, IPv4address or `[IPv6address]`,
 * with an optional `:port` (up to 65535)? Stricter than RFC 3986 where the WHATWG URL parser, which
 * the gateway resolves URLs with, would read the host otherwise: no percent-escape, no IPvFuture
 * or zone id, and a host whose last label is a number must be a dotted-decimal IPv4 address
 * (`0x7f.1` is 127.0.0.1 to that parser, `1.2.3.999` nothing).
 */
export function isValidHost (value: string): boolean {
  return rememberedHostAnswer(value)
}

function checkHost (value: string): boolean {
  let host = value
  const portAt = value.lastIndexOf(':')
  if (portAt !== -1 && !value.endsWith(']')) {
    const port = value.slice(portAt + 1)
    if (!/^\d{0,5}$/.test(port) || Number(port) > 65535) return false
    host = value.slice(0, portAt)
  }
  if (host.startsWith('[')) return host.endsWith(']') && !host.includes('%') && isIPv6(host.slice(1, -1))
  if (!REG_NAME.test(host)) return false
  const labels = host.split('.')
  const last = labels.at(-1) === '' ? labels.at(-2) : labels.at(-1)
  if (last !== undefined && NUMERIC_LABEL.test(last)) return IPV4.test(host)
  return URL.canParse(`http://${value}/`)
}

/** Nearly every request names the same Host or two: its checks were ~2 % of a passthrough. */
const rememberedHostAnswer = rememberedAnswers(checkHost, { entries: 16, maxLength: 300 })
