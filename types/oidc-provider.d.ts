// oidc-provider 9 ships no type declarations; the tests use this much of it.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'
  export type ClientMetadata = Record<string, unknown>
  export type Configuration = Record<string, unknown>
  export default class Provider {
    constructor (issuer: string, configuration?: Configuration)
    proxy: boolean
    callback (): (req: IncomingMessage, res: ServerResponse) => Promise<void>
    on (event: string, listener: (...args: any[]) => void): this
  }
}
