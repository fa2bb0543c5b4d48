import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { certificateMatchesSubject, subjectAltNames, tlsClientAuthProblem } from '../../src/pushed-requests/certificate-subject.js'
import { unverifiedAssertionIssuer } from '../../src/pushed-requests/client-assertion.js'
import { createTestPki } from '../helpers/test-pki.js'

const pki = createTestPki()
t.teardown(() => pki.remove())
const ca = pki.authority('Subject CA')

/** Only `subject` and `subjectAltName` are read: shapes a CA would rarely issue, written as Node prints them. */
const printed = (subject: string, subjectAltName?: string): X509Certificate => ({ subject, subjectAltName }) as unknown as X509Certificate

t.test('DN: RFC 4514 order, escapes, aliases, OIDs, case and spaces; a real certificate', async (t) => {
  const cert = new X509Certificate(ca.issue('dn', { usage: 'client', subject: '/DC=example/C=DE/ST=Bayern/O=Müller \\+ Söhne, GmbH/OU=A+OU=B/CN=app  one' }).cert)
  t.equal(cert.subject, 'DC=example\nC=DE\nST=Bayern\nO=M\u00fcller \\+ S\u00f6hne\\, GmbH\nOU=A + OU=B\nCN=app  one', 'what Node prints (the test pins the format read)')
  const matches = (dn: string): boolean => certificateMatchesSubject(cert, { tlsClientAuthSubjectDn: dn })
  t.ok(matches('CN=app one,OU=B+OU=A,O=Müller \\+ Söhne\\, GmbH,ST=Bayern,C=DE,DC=example'), 'multi-valued RDN in any order, spaces collapsed')
  t.ok(matches('cn = APP ONE , ou=a + ou=b, o=MÜLLER \\2B SÖHNE\\2C GMBH, s=bayern, 2.5.4.6=de, 0.9.2342.19200300.100.1.25=EXAMPLE'), 'hex escapes, aliases, OIDs, case')
  t.ok(matches('CN=app one,OU=A+OU=B,O=M\\C3\\BCller \\+ S\\C3\\B6hne\\, GmbH,ST=Bayern,C=DE,DC=example'), 'UTF-8 as hex pairs')
  t.notOk(matches('C=DE,ST=Bayern,O=Müller \\+ Söhne\\, GmbH,OU=A+OU=B,CN=app one,DC=example'), 'certificate order is not RFC 4514 order')
  t.notOk(matches('CN=app one,OU=A,O=Müller \\+ Söhne\\, GmbH,ST=Bayern,C=DE,DC=example'), 'an attribute missing from a multi-valued RDN')
  t.notOk(matches('CN=app one,OU=A+OU=B,O=Müller \\+ Söhne\\, GmbH,ST=Bayern,C=DE'), 'an RDN missing')
  t.notOk(matches('CN=app two,OU=A+OU=B,O=Müller \\+ Söhne\\, GmbH,ST=Bayern,C=DE,DC=example'), 'another value')
})

t.test('DN: escaped spaces, quotes and control characters from the printed form', async (t) => {
  const cert = printed('O=a\\0ACN=evil\nCN=x \\"q\\" \\\\b#\nCN=\\ lead\\ ')
  t.ok(certificateMatchesSubject(cert, { tlsClientAuthSubjectDn: 'CN=lead,CN=x \\"q\\" \\\\b#,O=a\\0ACN=evil' }))
  t.notOk(certificateMatchesSubject(cert, { tlsClientAuthSubjectDn: 'CN=lead,CN=x "q" \\\\b#,CN=evil,O=a' }), 'a newline in a value is not an RDN')
  t.notOk(certificateMatchesSubject(printed(''), { tlsClientAuthSubjectDn: 'CN=x' }), 'an empty subject')
  t.notOk(certificateMatchesSubject(printed('CN=\\'), { tlsClientAuthSubjectDn: 'CN=x' }), 'an unreadable printed subject')
})

t.test('tlsClientAuthProblem: exactly one field, a DN that parses, an IP that is one', async (t) => {
  t.equal(tlsClientAuthProblem({ tlsClientAuthSanDns: 'a.example' }), undefined)
  t.match(tlsClientAuthProblem({}), /^exactly one of .* must be set, not 0$/)
  t.match(tlsClientAuthProblem({ tlsClientAuthSanDns: 'a', tlsClientAuthSanEmail: 'b@c' }), /not 2$/)
  for (const dn of ['CN', '=x', 'CN=#0403616263', 'CN=a\\', 'CN=\\ff', 'CN=a,', 'CN=a+']) {
    t.equal(tlsClientAuthProblem({ tlsClientAuthSubjectDn: dn }), 'tls_client_auth_subject_dn must be an RFC 4514 distinguished name', dn)
  }
  t.equal(tlsClientAuthProblem({ tlsClientAuthSanIp: '10.0.0.256' }), 'tls_client_auth_san_ip must be an IPv4 or IPv6 address')
  t.equal(tlsClientAuthProblem({ tlsClientAuthSanIp: '::ffff:10.0.0.1' }), undefined)
  t.throws(() => certificateMatchesSubject(printed('CN=x'), {}), { message: /^tls_client_auth registration: exactly one of/ }, 'a registration the check let through')
})

t.test("SANs: Node's quoting, IP spellings, DNS case, e-mail domain case, URI exactly", async (t) => {
  const cert = printed('CN=x', 'DNS:a.example, DNS:"x\\u002c y.example", URI:"https://c.example/a\\u002cb", email:Me@Example.COM, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:10.0.0.1, othername:<unsupported>, URI:urn:x:y')
  t.same(subjectAltNames(cert), [['DNS', 'a.example'], ['DNS', 'x, y.example'], ['URI', 'https://c.example/a,b'], ['email', 'Me@Example.COM'], ['IP Address', '2001:DB8:0:0:0:0:0:1'], ['IP Address', '10.0.0.1'], ['othername', '<unsupported>'], ['URI', 'urn:x:y']])
  const matches = (subject: Parameters<typeof certificateMatchesSubject>[1]): boolean => certificateMatchesSubject(cert, subject)
  t.ok(matches({ tlsClientAuthSanDns: 'X, Y.example' }))
  t.ok(matches({ tlsClientAuthSanUri: 'https://c.example/a,b' }))
  t.notOk(matches({ tlsClientAuthSanUri: 'https://C.example/a,b' }), 'URIs byte for byte')
  t.ok(matches({ tlsClientAuthSanIp: '2001:db8::1' }))
  t.ok(matches({ tlsClientAuthSanIp: '10.0.0.1' }))
  t.notOk(matches({ tlsClientAuthSanIp: '10.0.0.2' }))
  t.ok(matches({ tlsClientAuthSanEmail: 'Me@example.com' }))
  t.notOk(matches({ tlsClientAuthSanEmail: 'me@example.com' }), 'the local part keeps its case')
  t.notOk(matches({ tlsClientAuthSanDns: 'urn:x:y' }), 'only SANs of the registered type count')
  t.same(subjectAltNames(printed('CN=x')), [], 'no SAN extension')
  t.same(subjectAltNames(printed('CN=x', 'DNS:a, DNS:"unterminated')), [['DNS', 'a']], 'a quote never closed ends the list')
  t.same(subjectAltNames(printed('CN=x', 'DNS:a, DNS:"bad\\q", DNS:b')), [['DNS', 'a']], 'a quote that is not JSON ends the list')
  t.same(subjectAltNames(printed('CN=x', 'DNS:a, garbage')), [['DNS', 'a']], 'an entry without a type ends the list')
  t.notOk(certificateMatchesSubject(printed('CN=x', 'IP Address:<invalid>'), { tlsClientAuthSanIp: '10.0.0.1' }))
})

t.test('unverifiedAssertionIssuer reads iss only when it is a string', async (t) => {
  const jwt = (payload: string): string => `e30.${Buffer.from(payload).toString('base64url')}.sig`
  t.equal(unverifiedAssertionIssuer(jwt('{"iss":"app1"}')), 'app1')
  t.equal(unverifiedAssertionIssuer(jwt('{"iss":1}')), undefined)
  t.equal(unverifiedAssertionIssuer(jwt('null')), undefined)
  t.equal(unverifiedAssertionIssuer(jwt('not json')), undefined)
  t.equal(unverifiedAssertionIssuer('no-dots'), undefined)
})
