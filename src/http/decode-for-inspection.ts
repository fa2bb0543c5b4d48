/**
 * Decoding a (possibly partial) response body to look into it, never trusting its size: at most
 * `maxOutput` bytes come out, so a small compressed body cannot expand without bound (a zip bomb),
 * and a body cut at the read limit decodes as far as it goes. The gateway forwards only encodings
 * it can read here (see accept-encoding.ts), so an answer it cannot decode is a misbehaving one.
 */
import { constants, createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib'
import type { Transform } from 'node:stream'

export type DecodedText =
  | { readonly kind: 'text', readonly text: string, readonly truncated: boolean }
  | { readonly kind: 'unsupported', readonly encoding: string }
  | { readonly kind: 'corrupt' }

/** The encodings the gateway can decode, as sent in Accept-Encoding (RFC 9110 §8.4.1). */
export const DECODABLE_ENCODINGS = ['gzip', 'deflate', 'br'] as const

function decoderFor (encoding: string, raw: boolean): Transform | undefined {
  // Sync flush: a body cut at the read limit yields what it holds instead of an error.
  const zlibFlush = { finishFlush: constants.Z_SYNC_FLUSH }
  switch (encoding) {
    case 'gzip': case 'x-gzip': return createGunzip(zlibFlush)
    // Some servers send raw DEFLATE (no zlib wrapper) as `deflate`; browsers accept both.
    case 'deflate': return raw ? createInflateRaw(zlibFlush) : createInflate(zlibFlush)
    case 'br': return createBrotliDecompress({ finishFlush: constants.BROTLI_OPERATION_FLUSH })
    default: return undefined
  }
}

function run (decoder: Transform, input: Buffer, maxOutput: number): Promise<{ output: Buffer, truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    // A promise settles once: whatever the decoder emits after a truncation is ignored.
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size >= maxOutput) {
        decoder.off('data', onData)
        decoder.destroy()
        resolve({ output: Buffer.concat(chunks).subarray(0, maxOutput), truncated: true })
      }
    }
    decoder.on('data', onData)
    decoder.on('end', () => resolve({ output: Buffer.concat(chunks), truncated: false }))
    decoder.on('error', reject)
    decoder.end(input)
  })
}

/**
 * `contentEncoding` lists the codings in the order they were applied (RFC 9110 §8.4); they are
 * undone from the last.
 */
/**
 * The text a browser reads from these bytes, for what can matter here: UTF-16 (a byte order mark, or
 * a `charset` of utf-16, utf-16le or utf-16be, which the Encoding standard all reads as UTF-16) is
 * decoded as UTF-16, since a sealed state in it has no ASCII bytes to find. Every other encoding a
 * browser supports is ASCII-compatible, and a sealed state, a form and its attribute names are
 * ASCII: reading those bytes as UTF-8 finds them all.
 */
export function pageText (bytes: Buffer, contentType: string | undefined): string {
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes)
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes)
  const charset = /;\s*charset\s*=\s*["']?(utf-16(?:le|be)?)\b/i.exec(contentType ?? '')?.[1]?.toLowerCase()
  if (charset === undefined) return bytes.toString('utf8')
  return new TextDecoder(charset === 'utf-16be' ? 'utf-16be' : 'utf-16le').decode(bytes)
}

export async function decodeForInspection (body: Buffer, contentEncoding: string | undefined, maxOutput: number, contentType?: string): Promise<DecodedText> {
  const codings = (contentEncoding ?? '').split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity')
  let data = body
  let truncated = false
  for (const coding of codings.reverse()) {
    const decoder = decoderFor(coding, false)
    if (decoder === undefined) return { kind: 'unsupported', encoding: coding }
    let decoded: { output: Buffer, truncated: boolean }
    try {
      decoded = await run(decoder, data, maxOutput)
    } catch {
      if (coding !== 'deflate') return { kind: 'corrupt' }
      try {
        decoded = await run(decoderFor(coding, true)!, data, maxOutput)
      } catch {
        return { kind: 'corrupt' }
      }
    }
    data = decoded.output
    truncated ||= decoded.truncated
  }
  // An identity body is bounded by the read limit, which is below maxOutput.
  return { kind: 'text', text: pageText(data, contentType), truncated }
}
