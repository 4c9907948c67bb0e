// The git-ignored secrets file (.mailkind/secrets.json, mode 0600): generated once, completed when
// a new key is declared, never rewritten otherwise, so credentials stay stable across `up`s.
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { completeSecrets, parseSecretsFile, serializeSecretsFile, type SecretsRecord } from './generate.js';

export interface EnsuredSecrets {
  secrets: SecretsRecord;
  /** what happened to the file: created, completed (keys added), unchanged */
  outcome: 'created' | 'completed' | 'unchanged';
  added: string[];
}

async function writePrivate(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // write beside it, then rename: an interrupted `up` never leaves a truncated file
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
}

export async function readSecrets(path: string): Promise<SecretsRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const { secrets, added } = completeSecrets(parseSecretsFile(text));
  return added.length === 0 ? secrets : undefined;
}

export async function ensureSecrets(path: string): Promise<EnsuredSecrets> {
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text === undefined) {
    const { secrets } = completeSecrets({});
    await writePrivate(path, serializeSecretsFile(secrets));
    return { secrets, outcome: 'created', added: [] };
  }
  const { secrets, added } = completeSecrets(parseSecretsFile(text));
  if (added.length > 0) await writePrivate(path, serializeSecretsFile(secrets));
  // someone widened it (a copy, an editor): credentials are for this user only
  const mode = (await stat(path)).mode & 0o777;
  if (mode !== 0o600) await chmod(path, 0o600);
  return { secrets, outcome: added.length > 0 ? 'completed' : 'unchanged', added };
}
