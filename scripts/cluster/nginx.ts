/**
 * Debian's nginx in front of the instances, as a child process: the configuration
 * is `deploy/nginx.conf` itself (the one docs/DEPLOY.md tells users to run), with
 * only what is specific to this machine rewritten: the listen address, the upstream
 * servers, and where nginx keeps its pid, logs and temporary files. A rewrite that
 * no longer finds its line fails loudly, so the example and what runs stay one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dieWithParent, waitForHttp } from './children.ts';

export const NGINX_EXAMPLE = fileURLToPath(new URL('../../deploy/nginx.conf', import.meta.url));

export class NginxNotInstalledError extends Error {
  override name = 'NginxNotInstalledError';
  constructor(binary: string) {
    super(
      `nginx was not found (${binary}). Install it (Debian/Ubuntu: \`sudo apt-get install nginx\`; macOS: \`brew install nginx\`), ` +
        'or set NGINX to its path.',
    );
  }
}

/** NGINX from the environment, else Debian's, else whatever `nginx` is on PATH. */
export function nginxBinary(): string {
  if (process.env.NGINX) return process.env.NGINX;
  return spawnSync('/usr/sbin/nginx', ['-v'], { stdio: 'ignore' }).status === 0 ? '/usr/sbin/nginx' : 'nginx';
}

export function nginxInstalled(binary = nginxBinary()): boolean {
  return spawnSync(binary, ['-v'], { stdio: 'ignore' }).status === 0;
}

export interface NginxSite {
  host: string;
  listenPort: number;
  instancePorts: readonly number[];
  /** Where nginx keeps its pid, error log and temporary files. */
  dir: string;
}

/** `deploy/nginx.conf` with this machine's ports and paths. */
export function nginxConfig(example: string, { host, listenPort, instancePorts, dir }: NginxSite): string {
  const replaceOnce = (text: string, pattern: RegExp, replacement: string, what: string) => {
    const found = text.match(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`))?.length ?? 0;
    if (found !== 1) throw new Error(`deploy/nginx.conf: expected one ${what}, found ${found}`);
    return text.replace(pattern, replacement);
  };
  let config = example;
  config = replaceOnce(config, /^pid [^;]+;/m, `pid ${dir}/nginx.pid;`, '`pid` line');
  config = replaceOnce(config, /^error_log [^ ;]+/m, `error_log ${dir}/error.log`, '`error_log` line');
  config = replaceOnce(config, /^(\s*)listen \d+;/m, `$1listen ${host}:${listenPort};`, '`listen <port>;` line');
  // The example's upstream servers, one line each: replaced by one per instance, with the same parameters.
  const upstream = /^(\s*)server 127\.0\.0\.1:\d+([^;]*);\n(?:\s*server 127\.0\.0\.1:\d+[^;]*;\n)*/m;
  const match = upstream.exec(config);
  if (!match) throw new Error('deploy/nginx.conf: no `server 127.0.0.1:<port> …;` lines in its upstream');
  const [, indent, parameters] = match;
  config = config.replace(upstream, instancePorts.map((port) => `${indent}server 127.0.0.1:${port}${parameters};\n`).join(''));
  // Temporary files in our folder: the compiled-in ones (/var/lib/nginx) need root.
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind}_temp;\n`).join('');
  config = replaceOnce(config, /^http \{\n/m, `http {\n${temp}`, '`http {` line');
  return config;
}

export interface Nginx {
  pid: number;
  process: ChildProcess;
  /** What nginx wrote to its error log so far. */
  errors(): string;
  stop(): Promise<void>;
}

/** Starts nginx on host:listenPort in front of the instances; resolves once it answers. */
export async function startNginx(host: string, listenPort: number, instancePorts: readonly number[]): Promise<Nginx> {
  const binary = nginxBinary();
  if (!nginxInstalled(binary)) throw new NginxNotInstalledError(binary);
  const dir = mkdtempSync(join(tmpdir(), 'idem-nginx-'));
  // nginx's workers run as `nobody` when started by root: they must reach the temporary folders.
  chmodSync(dir, 0o755);
  const configPath = join(dir, 'nginx.conf');
  writeFileSync(configPath, nginxConfig(readFileSync(NGINX_EXAMPLE, 'utf8'), { host, listenPort, instancePorts, dir }));
  // In the foreground (`daemon off`), so it is our child; `-e` keeps it off the system's log before it reads the config.
  const child = spawn(binary, ['-p', dir, '-c', configPath, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const watchdog = dieWithParent(child.pid!);
  const errors = () => {
    try {
      return stderr + readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return stderr;
    }
  };
  const stop = async () => {
    // Fast shutdown: a graceful one would wait for every phone's WebSocket to close.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    watchdog.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForHttp(`http://127.0.0.1:${listenPort}/healthz`, () => child.exitCode !== null, 20_000, { anyStatus: true });
  } catch (error) {
    const log = errors();
    await stop();
    throw new Error(`nginx did not start on port ${listenPort}: ${(error as Error).message}${log ? `\n${log}` : ''}`);
  }
  return { pid: child.pid!, process: child, errors, stop };
}
