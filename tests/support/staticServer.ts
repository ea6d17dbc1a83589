/**
 * A plain static file server, as any static host is: Python's http.server on a
 * free loopback port, serving a folder and nothing else (no socket.io, no API).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { withDeadline } from './deadline.ts';

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

export async function startStaticServer(dir: string): Promise<StaticServer> {
  const child: ChildProcess = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await withDeadline(
    new Promise<number>((resolve, reject) => {
      let seen = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const match = /port (\d+)/.exec(seen);
        if (match) resolve(Number(match[1]));
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`python3 -m http.server exited with code ${code}`)));
    }),
    10_000,
    'python3 -m http.server to listen',
  );
  child.stderr!.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await withDeadline(exited, 5000, 'the static server to stop').catch(() => child.kill('SIGKILL'));
    },
  };
}
