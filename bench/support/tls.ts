import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway certificate authority and a server certificate for 127.0.0.1, made with the openssl command
 * at bench time (nothing is committed): the sandbox serves https with the leaf, and igconnect trusts the
 * authority through NODE_EXTRA_CA_CERTS, as a deployment trusts the public CAs. ECDSA P-256 keys, valid
 * two days; the caller deletes the directory with the rest of the run's files.
 */
export interface TlsMaterial {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

export function makeTlsMaterial(parent = tmpdir()): TlsMaterial {
  const dir = mkdtempSync(join(parent, 'igconnect-bench-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=igconnect bench throwaway CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  ]);
  openssl(['req', ...ecKey, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(
    file('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  openssl([
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.pem'),
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
  ]);
  return { dir, caFile: file('ca.pem'), certFile: file('server.pem'), keyFile: file('server.key') };
}
