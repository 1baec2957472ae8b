// The bare baseline for bench:transport: a plain ws server with msgpackr and nothing else.
// Echoes 'ping' values at once; counts 'blast' values and answers { done } after the last one.
import { pack, unpackMultiple } from 'msgpackr';
import { WebSocketServer } from 'ws';

const server = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024,
});
server.on('listening', () => {
  const address = server.address();
  console.log(
    `bare peer listening on ${typeof address === 'object' && address ? address.port : 0}`,
  );
});
server.on('connection', (ws) => {
  let counted = 0;
  ws.on('message', (data) => {
    for (const value of unpackMultiple(data as Buffer) as Array<{
      t: string;
      n: number;
      last?: boolean;
    }>) {
      if (value.t === 'ping') ws.send(pack({ t: 'pong', n: value.n }));
      else if (value.t === 'blast') {
        counted++;
        if (value.last) {
          ws.send(pack({ t: 'done', n: counted }));
          counted = 0;
        }
      }
    }
  });
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
