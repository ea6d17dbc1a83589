/**
 * What `npm test` does once before the test files run: the typecheck, and both
 * variants of the built deck (tools/builtDeck.ts), side by side. The test files
 * then share these builds instead of each building its own.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildDeck } from '../tools/builtDeck.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function typecheck(): Promise<void> {
  return new Promise((resolve, reject) => {
    const tsc = spawn(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit'], { cwd: ROOT, stdio: 'inherit' });
    tsc.once('error', reject);
    tsc.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsc --noEmit failed (${code})`))));
  });
}

const started = Date.now();
const steps = await Promise.allSettled([typecheck(), buildDeck('site'), buildDeck('static')]);
const failed = steps.filter((step): step is PromiseRejectedResult => step.status === 'rejected');
for (const step of failed) console.error(String(step.reason instanceof Error ? step.reason.message : step.reason));
console.error(`prepare: typecheck and deck builds ${failed.length ? 'FAILED' : 'done'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = failed.length ? 1 : 0;
