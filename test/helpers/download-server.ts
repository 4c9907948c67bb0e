// A local HTTP server standing in for a release host (no network here): `answer` maps a request
// path to the body to send, or undefined for 404. The install tests point the download base at it.
import { createServer } from 'node:http';

export interface DownloadServer {
  base: string;
  close: () => void;
}

export async function startDownloadServer(answer: (url: string) => string | Buffer | undefined): Promise<DownloadServer> {
  const server = createServer((req, res) => {
    const body = answer(req.url ?? '');
    if (body !== undefined) return res.end(body);
    res.statusCode = 404;
    res.end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { base: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, close: () => server.close() };
}
