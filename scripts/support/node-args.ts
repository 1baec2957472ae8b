// The options that make a process a node of a cluster, shared by `npm run node` and `npm start`
// (the REPL): where it listens, the address it advertises, TLS, and the members it joins (a full
// name, or just an address).
import { logger } from '../../actors/log.ts';
import { Node } from '../../transport/index.ts';
import { isFullName } from '../../transport/names.ts';
import { loadTls } from '../../transport/tls.ts';
import type { Cli, Options } from './cli.ts';

/** parseArgs options for the address flags (`port` has no default: see `nodeAddress`). */
export const NODE_ADDRESS_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  listen: { type: 'string' },
  advertise: { type: 'string' },
  tls: { type: 'string' },
  'insecure-plain': { type: 'boolean' },
  join: { type: 'string', multiple: true, default: [] as string[] },
} satisfies Options;

/** The usage lines of those flags. */
export const NODE_ADDRESS_USAGE = `  --port N             port to listen on (default 0: any free port)
  --host H             interface to listen on (default 127.0.0.1)
  --listen H:P         interface and port together, e.g. 0.0.0.0:4000 (instead of --host, --port)
  --advertise H[:P]    the address peers dial, part of the node's name NAME@H:P (default: the
                       listening address; required with 0.0.0.0 or ::)
  --tls DIR            wss:// with mutual TLS: DIR holds ca.crt, NAME.crt, NAME.key (make them
                       with npm run certs); every node of the cluster must use it
  --insecure-plain     allow listening beyond loopback without TLS (plain ws://, only the cookie
                       protects it; a warning is logged). Without --tls or this, a listen beyond
                       127.0.0.1 is refused
  --join NODE          a member to join (repeatable): its full name, e.g. p1@127.0.0.1:4001, or
                       its address, e.g. 10.1.0.2:4000 (linked nodes tell each other every node
                       they know: one member is enough to reach them all)`;

type AddressValues = {
  port?: string;
  host?: string;
  listen?: string;
  advertise?: string;
  tls?: string;
  'insecure-plain'?: boolean;
};

/** Node.start's address options from the flags (a usage error for a bad --listen). */
export function nodeAddress<O extends Options>(
  args: Cli<O, boolean>,
  name: string,
): {
  port: number;
  host?: string;
  advertise?: string;
  tls?: ReturnType<typeof loadTls>;
  insecure: boolean;
} {
  const values = args.values as unknown as AddressValues;
  let port = args.port('port' as never) ?? 0;
  let host = values.host;
  if (values.listen !== undefined) {
    if (values.host !== undefined || values.port !== undefined)
      args.fail('--listen gives the host and port: not with --host or --port');
    const m =
      /^(.+):(\d{1,5})$/.exec(values.listen) ??
      args.fail(`--listen expects HOST:PORT, e.g. 0.0.0.0:4000, got '${values.listen}'`);
    if (Number(m[2]) > 65535) args.fail(`--listen: port ${m[2]} is above 65535`);
    host = m[1]!.replace(/^\[|\]$/g, '');
    port = Number(m[2]);
  }
  return {
    port,
    host,
    advertise: values.advertise,
    tls: values.tls === undefined ? undefined : loadTls(values.tls, name),
    insecure: values['insecure-plain'] === true,
  };
}

/**
 * Joins each member: by full name (a link to that node) or by address (its name comes in the
 * handshake). A member that cannot be reached is logged, not fatal. Returns the members joined.
 */
export async function joinMembers(peers: readonly string[]): Promise<string[]> {
  const joined: string[] = [];
  for (const peer of peers) {
    if (isFullName(peer)) {
      if (await Node.connect(peer)) joined.push(peer);
      else logger().warn({ peer }, `could not join ${peer}`);
      continue;
    }
    try {
      const member = await Node.join(peer);
      joined.push(member);
      logger().info({ peer, member }, `joined the cluster through ${member}`);
    } catch (err) {
      logger().warn({ peer }, `could not join ${peer}: ${(err as Error).message}`);
    }
  }
  return joined;
}
