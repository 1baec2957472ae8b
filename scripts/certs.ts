// `npm run certs -- --out ./certs --nodes p1,p2,p3`: a cluster CA and one certificate per node,
// for wss:// links with mutual authentication (npm run node -- --tls DIR). node-forge makes the
// certificates; Node's crypto makes the keys.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CA_CERT_FILE, CA_KEY_FILE, writeCerts } from '../transport/tls.ts';
import { cli } from './support/cli.ts';

const HELP = `Usage: npm run certs -- --out DIR --nodes p1,p2,p3 [--days N]

Makes the TLS material of a cluster in DIR:
  ca.crt, ca.key      the cluster's certificate authority (made once: if DIR already holds
                      one, it signs the new node certificates, so nodes can be added later)
  NAME.crt, NAME.key  one certificate and key per node, signed by the CA; the certificate's
                      common name is the node's short name, which each end of a link checks
Keys are RSA-2048, made by Node's crypto; certificates are signed with SHA-256 by node-forge.
Keys are written readable by their owner only. Copy ca.crt, NAME.crt and NAME.key to the host
of node NAME and start it with --tls DIR; keep ca.key off the nodes.

Options:
  --out DIR      where to write (created if missing; required)
  --nodes LIST   comma-separated short node names (required)
  --days N       validity of node certificates in days (default 825)
  --help         this text`;

const args = cli({
  usage: HELP,
  options: {
    out: { type: 'string' },
    nodes: { type: 'string' },
    days: { type: 'string' },
  },
});
const out = args.values.out || args.fail('--out DIR is required');
const list = args.values.nodes || args.fail('--nodes p1,p2,... is required');
const nodes = list.split(',').map((n) => n.trim());
if (nodes.some((n) => n === '')) args.fail(`--nodes has an empty name: '${list}'`);
if (new Set(nodes).size !== nodes.length) args.fail(`--nodes names a node twice: '${list}'`);
const days = args.int('days', { min: 1 });
const reused = existsSync(join(out, CA_CERT_FILE)) && existsSync(join(out, CA_KEY_FILE));
try {
  const written = writeCerts(out, nodes, days);
  if (reused) console.log(`using the CA in ${join(out, CA_CERT_FILE)}`);
  for (const f of written) console.log(`wrote ${f}`);
} catch (err) {
  args.fail((err as Error).message);
}
