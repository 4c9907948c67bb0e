// The STARTTLS certificate: the user's PEM files, or a self-signed one made at start. A fresh key per
// start means no private key ships in the image or the repository.
import { readFile } from 'node:fs/promises';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  key: string;
  cert: string;
  selfSigned: boolean;
}

export class TlsFileError extends Error {}

export async function loadTls(certFile: string | undefined, keyFile: string | undefined, hostname: string): Promise<TlsMaterial> {
  if (certFile && keyFile) {
    const read = async (file: string, what: string) => {
      try {
        return await readFile(file, 'utf8');
      } catch (e) {
        throw new TlsFileError(`cannot read the TLS ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    };
    // one after the other: with both missing, the error names the certificate every time
    const cert = await read(certFile, 'certificate');
    const key = await read(keyFile, 'key');
    if (!cert.includes('BEGIN CERTIFICATE')) throw new TlsFileError(`${certFile} is not a PEM certificate`);
    if (!key.includes('PRIVATE KEY')) throw new TlsFileError(`${keyFile} is not a PEM private key`);
    return { cert, key, selfSigned: false };
  }
  const notBefore = new Date(Date.now() - 60_000);
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: new Date(notBefore.getTime() + 365 * 24 * 3600_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: hostname }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  });
  return { key: pems.private, cert: pems.cert, selfSigned: true };
}
