// The dashboard's files, read once at start and served from memory.
import { readdirSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** public/ is two levels up from src/http/ in the checkout, one level up from the bundle in dist/. */
export function publicDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const candidate of [join(here, '..', '..', 'public'), join(here, '..', 'public')]) {
    try {
      readdirSync(candidate);
      return candidate;
    } catch {
      // try the next layout
    }
  }
  return join(here, '..', 'public');
}

let files: Map<string, { type: string; body: Buffer }> | undefined;

function load(): Map<string, { type: string; body: Buffer }> {
  const dir = publicDir();
  const map = new Map<string, { type: string; body: Buffer }>();
  try {
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)];
      if (type) map.set('/' + name, { type, body: readFileSync(join(dir, name)) });
    }
  } catch {
    // no dashboard files: the API still works, GET / answers 404
  }
  return map;
}

export function serveStatic(pathname: string, res: ServerResponse): boolean {
  files ??= load();
  const file = files.get(pathname === '/' ? '/index.html' : pathname);
  if (!file) return false;
  res.writeHead(200, {
    'content-type': file.type,
    'cache-control': 'no-cache',
    'content-length': file.body.length,
    'x-content-type-options': 'nosniff',
    // the dashboard loads nothing from elsewhere and runs no inline script
    'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  });
  res.end(file.body);
  return true;
}
