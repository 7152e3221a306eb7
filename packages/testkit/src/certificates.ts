import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificates {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/**
 * A CA, and a server certificate it signed for `names` (subjectAltName entries such as
 * `IP:127.0.0.1` or `DNS:shop.test`), written into `dir`. Made with openssl, which `make test`
 * installs (scripts/lib/installers.sh): valid for a day, for tests only.
 */
export function makeTestCertificates(dir: string, names: readonly string[]): TestCertificates {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const commonName = (names[0] ?? 'localhost').replace(/^(IP|DNS):/, '');
  openssl(
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=spool-test-ca'],
    ...['-keyout', file('ca.key'), '-out', file('ca.crt')],
  );
  openssl(
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${commonName}`],
    ...['-keyout', file('server.key'), '-out', file('server.csr')],
  );
  writeFileSync(file('san.ext'), `subjectAltName=${names.join(',')}\n`);
  openssl(
    ...['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key')],
    ...['-CAcreateserial', '-days', '1', '-extfile', file('san.ext'), '-out', file('server.crt')],
  );
  return { certFile: file('server.crt'), keyFile: file('server.key'), caFile: file('ca.crt') };
}
