/** Names shared by the bench's parent and its servers. */

/** The client of the complete browser flows (section 3), registered at both oidc-providers. */
export const FLOW_CLIENT_ID = 'app1'
export const FLOW_REDIRECT_URI = 'https://client.example.org/cb'

/** The redirect_uri of the instant-upstream cases (section 2); the fake upstream vouches for any. */
export const FAKE_REDIRECT_URI = 'https://client.example.org/cb'

/** A state a client library would send (43 characters of base64url, like oauth4webapi's). */
export const CLIENT_STATE = 'q7K1xMuVnJ9Y2pRwA3sTfLhE0cGdZb5oNiW8kXyU4vQ'
