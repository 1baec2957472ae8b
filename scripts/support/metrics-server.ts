// Serves this process's Prometheus metrics at http://127.0.0.1:PORT/metrics (loopback only).
import { createServer, type Server } from 'node:http';
import { metricsText, registry } from '../../actors/index.ts';

/** Starts the endpoint; resolves with its URL and the server (port 0: any free port). */
export async function serveMetrics(port: number): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      metricsText().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics failed: ${String(err)}\n`);
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('only GET /metrics here\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  return { url: `http://127.0.0.1:${actual}/metrics`, server };
}

/** The project's own metrics with their values, one per line (no HELP/TYPE, no Node.js defaults). */
export async function metricsSummary(): Promise<string> {
  const text = await metricsText();
  return text
    .split('\n')
    .filter(
      (l) =>
        l.startsWith('actorcluster_') &&
        !/^actorcluster_(process_|nodejs_)/.test(l) &&
        !l.includes('_bucket{'),
    )
    .join('\n');
}
