/**
 * Makes the response JWT for a captured flow: the claims, signed with the client's algorithm, then
 * encrypted to the client when it asked for encrypted responses (a nested JWT; never plaintext when
 * encryption fails). Knows nothing of redirects or HTML.
 */
import type { ParameterList } from '../authorization-request/parameters.js'
import type { GatewayConfig } from '../config/load-config.js'
import { GatewayError } from '../errors.js'
import { encryptResponse } from './encrypt-response.js'
import { buildResponseClaims } from './response-claims.js'
import { signJwt, symmetricSigner, SYMMETRIC_ALGS, type AsymmetricAlg, type JwsHeader, type Signer, type SymmetricAlg } from './sign-jwt.js'

interface HeaderAndSigner { readonly header: JwsHeader, readonly signer: Signer }

export interface ResponseTokenInput {
  readonly issuer: string
  readonly clientId: string
  readonly state: string | undefined
  readonly parameters: ParameterList
}

/** What signing needs of the configuration: one issuer's keys and clients (src/issuers/). */
export type ResponseTokenSettings = Pick<GatewayConfig, 'keyRing' | 'clients' | 'defaultSignedResponseAlg' | 'responseTtlSeconds'>

export class ResponseTokenFactory {
  readonly #config: ResponseTokenSettings
  readonly #now: () => number
  /**
   * Signers with their encoded JWS header, made once at start-up rather than per response: one per
   * key algorithm, one per client with a client_secret (HS*). Bounded by the configuration, never by
   * the client_ids that requests carry.
   */
  readonly #byAlg = new Map<AsymmetricAlg, HeaderAndSigner>()
  readonly #byClient = new Map<string, HeaderAndSigner>()

  constructor (config: ResponseTokenSettings, now: () => number = Date.now) {
    this.#config = config
    this.#now = now
    for (const alg of config.keyRing.algorithms) {
      const key = config.keyRing.keyFor(alg)!
      this.#byAlg.set(alg, { header: { alg: key.alg, kid: key.kid }, signer: key.signer })
    }
    for (const [clientId, client] of config.clients) {
      const alg = client.authorizationSignedResponseAlg
      // The config loader guarantees a client_secret for every HS* client.
      if ((SYMMETRIC_ALGS as readonly string[]).includes(alg)) {
        this.#byClient.set(clientId, { header: { alg }, signer: symmetricSigner(alg as SymmetricAlg, Buffer.from(client.clientSecret!, 'utf8')) })
      }
    }
  }

  /** The algorithm a client's responses are signed with (JARM §3: RS256 unless configured). */
  algorithmFor (clientId: string): string {
    return this.#config.clients.get(clientId)?.authorizationSignedResponseAlg ?? this.#config.defaultSignedResponseAlg
  }

  #signerFor (clientId: string): HeaderAndSigner {
    const alg = this.algorithmFor(clientId)
    const signer = this.#byClient.get(clientId) ?? this.#byAlg.get(alg as AsymmetricAlg)
    if (signer === undefined) throw new GatewayError('signing_failed', `no signing key serves ${alg}`)
    return signer
  }

  /** The response as the client gets it: signed, and encrypted where the client asked (nested JWT). */
  async createResponse (input: ResponseTokenInput): Promise<string> {
    const jws = this.create(input)
    const encryption = this.#config.clients.get(input.clientId)?.encryption
    if (encryption === undefined) return jws
    const recipient = await encryption.recipients.recipientFor(encryption.alg)
    return encryptResponse(jws, encryption.alg, encryption.enc, recipient)
  }

  /** The signed response JWT (the inner JWT of a nested one). */
  create (input: ResponseTokenInput): string {
    const claims = buildResponseClaims({
      issuer: input.issuer,
      clientId: input.clientId,
      state: input.state,
      parameters: input.parameters,
      nowSeconds: Math.floor(this.#now() / 1000),
      ttlSeconds: this.#config.responseTtlSeconds,
    })
    const { header, signer } = this.#signerFor(input.clientId)
    return signJwt(header, claims, signer)
  }
}
