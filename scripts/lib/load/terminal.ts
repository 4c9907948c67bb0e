// The live view's terminal. log-update fits its output to `stream.rows` and wraps at
// `stream.columns`; a TTY whose size the kernel does not know (a serial console, `docker exec -t`
// before a resize, some CI runners) reports 0 for both, and log-update then cuts every line away
// (node_modules/log-update/index.js: fitToTerminalHeight keeps the last `rows` lines). This
// adapter reports the usual 80x24 instead of an unknown size.

export interface SizedStream {
  write(text: string): boolean;
  readonly rows: number;
  readonly columns: number;
}

export const FALLBACK_SIZE = { rows: 24, columns: 80 };

export function sizedStream(stream: Pick<NodeJS.WriteStream, 'write' | 'rows' | 'columns'>): SizedStream {
  return {
    write: (text: string) => stream.write(text),
    get rows() {
      return stream.rows > 0 ? stream.rows : FALLBACK_SIZE.rows;
    },
    get columns() {
      return stream.columns > 0 ? stream.columns : FALLBACK_SIZE.columns;
    },
  };
}
