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

/** public/ sits beside src/ in the checkout and beside dist/ in the image: one level up from here. */
export function publicDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const candidate of [join(here, '..', 'public'), join(here, '..', '..', 'public')]) {
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
  res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache', 'content-length': file.body.length });
  res.end(file.body);
  return true;
}
