/**
 * Beyond the talk: the late duplicate. A pool of one executor. eval-A's task
 * ends and its `link` releases the executor; eval-B is handed it; then eval-A's
 * `link_error` arrives, late. The talk's release cannot tell eval-A from eval-B
 * (it takes no owner) and frees eval-B's executor, so eval-C is handed an
 * executor eval-B still runs on, and the talk's double-release warning stays
 * silent (the two releases are further apart than its window). The fenced
 * release carries eval-A's token, is refused (`stale_release`), and eval-C finds
 * the pool empty.
 *
 * The evals are played by the server itself, each step a real call of the
 * server's scripts on the live Redis, recorded as a pool history (in Redis'
 * order) that the history checker then judges; the timeline shows both.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { CallbackName, ReleaseKind, ReleaseReply } from '../protocol.ts';
import { checkHistory } from '../checker/checker.ts';
import type { OperationOf } from '../checker/history.ts';
import { PoolHistoryRecorder } from '../checker/recorder.ts';
import { fencedReleaseReply, parseBusyMarker } from '../pool/executorPool.ts';
import type { RunRecorder } from './runRecorder.ts';
import type { RunOptions, ScenarioContext } from './scenarios.ts';

/** Longer than the talk's double-release window (1 s), so not even its warning fires. */
export const LATE_CALLBACK_MS = 1_500;

const entryUrl = (entry: string) => (JSON.parse(entry) as { url: string }).url;

/** The reply of a recorded release, in the shape every release reply has (ReleaseReply). */
function releaseReply(op: OperationOf<'release'>): ReleaseReply {
  if (op.variant === 'fenced') return fencedReleaseReply(op.executor, op.reply);
  const [a, b, status] = op.reply;
  const naive = op.variant === 'naive';
  return {
    executor: op.executor,
    wasBusy: a === 1 ? 1 : 0,
    added: naive || b === 1 ? 1 : 0,
    status: naive ? 'released' : (status as ReleaseReply['status']),
    reply: op.reply,
    doubleRelease: false,
    sinceLastReleaseMs: null,
  };
}

export async function playLateDuplicate(ctx: ScenarioContext, run: RunRecorder, options: RunOptions, lateMs = LATE_CALLBACK_MS): Promise<string> {
  const pool = run.record.pool;
  const release: ReleaseKind = options.release;
  const suffix = randomBytes(2).toString('hex');
  const ids = { a: `eval-A-${suffix}`, b: `eval-B-${suffix}`, c: `eval-C-${suffix}` };
  const redis = new Redis(ctx.redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    const history = await PoolHistoryRecorder.start(redis, pool, release, 1);
    run.add({ lane: 'redis', kind: 'pool-reset', text: `pool "${pool}" reset: 1 executor available`, data: { pool, size: 1 } });
    ctx.pools.emit('changed', pool);
    run.setPoolBefore(await ctx.pools.snapshot(pool));
    const ttlMs = ctx.pools.busyTtlSeconds * 1000;
    const finished: string[] = [];
    const tokens = new Map<string, number>();
    const check = async (after: string) => run.addCheck(await ctx.pools.snapshot(pool), after, finished);

    const allocate = async (evalId: string, lane: string) => {
      const op = await history.allocate(evalId, ttlMs);
      ctx.pools.emit('changed', pool);
      const executor = op.reply ? entryUrl(op.reply[0]) : null;
      if (op.reply) tokens.set(evalId, op.reply[2]);
      run.add({
        lane,
        kind: 'allocate',
        text: executor ? `${evalId} ← ${executor} (token ${op.reply![2]})` : `${evalId}: pool empty`,
        data: {
          evalId,
          executor,
          ttlSeconds: executor ? ctx.pools.busyTtlSeconds : null,
          previousOwner: op.reply?.[1] ? parseBusyMarker(op.reply[1]).owner : null,
          token: op.reply?.[2] ?? null,
          reply: op.reply,
        },
      });
      return executor;
    };
    const fire = async (evalId: string, lane: string, callback: CallbackName, executor: string, first: boolean) => {
      await history.callback(evalId, callback, executor);
      if (first) finished.push(evalId);
      run.add({ lane, kind: 'callback-fired', text: `${evalId}'s ${callback} fires${first ? ': its task is over' : ''}`, data: { evalId, callback, executor, first } });
      const token = release === 'fenced' ? (tokens.get(evalId) ?? null) : null;
      const op = await history.releaseBy(release, evalId, callback, executor, token);
      ctx.pools.emit('changed', pool);
      const reply = releaseReply(op);
      ctx.pools.observeRelease(pool, reply, release, { log: false });
      run.add({
        lane: 'redis',
        kind: 'pool-release',
        text: `${evalId}'s ${callback} releases ${executor}${token === null ? '' : ` with token ${token}`} → ${reply.status} ${JSON.stringify(op.reply)}`,
        data: { evalId, callback, executor, release, token, reply },
      });
      await check(`${evalId}'s ${callback} (${reply.status})`);
    };

    const executor = await allocate(ids.a, 'eval-A');
    if (!executor) throw new Error('a fresh pool of one had no executor');
    await check(`${ids.a}'s allocation`);
    await fire(ids.a, 'eval-A', 'link', executor, true);
    const second = await allocate(ids.b, 'eval-B');
    await check(`${ids.b}'s allocation`);
    run.add({ lane: 'eval-A', kind: 'late-wait', text: `${ids.a}'s link_error is late: ${lateMs} ms`, data: { evalId: ids.a, callback: 'link_error', executor, delayMs: lateMs } });
    await new Promise((resolve) => setTimeout(resolve, lateMs));
    await fire(ids.a, 'eval-A', 'link_error', executor, false);
    const third = await allocate(ids.c, 'eval-C');
    if (second && third === second) run.addConflict(third, [ids.b, ids.c]);
    await check(`${ids.c}'s allocation`);
    if (second) await fire(ids.b, 'eval-B', 'link', second, true);
    if (third) await fire(ids.c, 'eval-C', 'link', third, true);

    // Quiet: every eval over. Whatever a late release deleted is put back by the reaper's script, as the reaper would.
    await history.reclaim('sweep');
    await history.quiet();
    const recorded = history.history();
    const result = checkHistory(recorded);
    run.add({
      lane: 'server',
      kind: 'history-check',
      text: `history checker: ${result.summary}`,
      data: {
        history: recorded,
        sound: result.sound,
        summary: result.summary,
        first: result.first
          ? { rule: result.first.rule, seq: result.first.seq, executor: result.first.executor, message: result.first.message, trail: result.first.trail.map((op) => op.seq) }
          : null,
      },
    });
    ctx.pools.emit('changed', pool);
    return release === 'fenced'
      ? `the fenced release: ${ids.a}'s late link_error carried token ${tokens.get(ids.a)}, the marker held ${tokens.get(ids.b) ?? 'none'}: refused`
      : release === 'lua'
        ? `the talk's release takes no owner: ${ids.a}'s late link_error deleted ${ids.b}'s marker and listed the executor again`
        : `the naive release: ${ids.a}'s late link_error deleted ${ids.b}'s marker and pushed the executor again`;
  } finally {
    redis.disconnect();
  }
}
