/**
 * Reading a body without trusting its size: at most `limit` bytes are held, and a stream that turns
 * out larger is handed back paused with what was read, so the caller can still pass it on whole.
 */
import type { Readable } from 'node:stream'
import { brotliDecompressSync, gunzipSync, inflateSync, constants } from 'node:zlib'

export interface BoundedBody {
  readonly chunks: Buffer[]
  readonly size: number
  /** False when the stream had more than `limit` bytes; it is paused with the rest unread. */
  readonly complete: boolean
}

export function readBounded (stream: Readable, limit: number): Promise<BoundedBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = (): void => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', onError)
      stream.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size > limit) {
        stream.pause()
        cleanup()
        resolve({ chunks, size, complete: false })
      }
    }
    const onEnd = (): void => { cleanup(); resolve({ chunks, size, complete: true }) }
    const onError = (error: Error): void => { cleanup(); reject(error) }
    // A stream destroyed mid-body (a reset upstream, a client that left) closes without `end`.
    const onClose = (): void => { cleanup(); reject(new Error('the stream closed before its end')) }
    stream.on('data', onData)
    stream.on('end', onEnd)
    stream.on('error', onError)
    stream.on('close', onClose)
  })
}

/**
 * The body as text for inspection, decoded from its Content-Encoding. Partial input (a body cut at
 * the limit) decodes as far as it goes. Returns undefined for an encoding the gateway cannot read.
 */
export function decodeBody (body: Buffer, contentEncoding: string | undefined, maxOutput: number): string | undefined {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase()
  const flush = { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: maxOutput }
  switch (encoding) {
    case 'identity': case '': return body.toString('utf8')
    case 'gzip': case 'x-gzip': return gunzipSync(body, flush).toString('utf8')
    case 'deflate': return inflateSync(body, flush).toString('utf8')
    case 'br': return brotliDecompressSync(body, { finishFlush: constants.BROTLI_OPERATION_FLUSH, maxOutputLength: maxOutput }).toString('utf8')
    default: return undefined
  }
}
