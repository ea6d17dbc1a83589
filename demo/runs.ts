/**
 * Scenario runs as the panels see them: one feed per page connection that joins
 * the server's `runs` room, keeps what the server sent about each run (its
 * summary, its timeline events by sequence number, its final record) and tells
 * the panels when anything changed. Nothing here invents a step: a run's phase,
 * events and verdict are what the server streamed (`run:*`) or acknowledged
 * (`runs:watch`, `run:start`).
 *
 * Several panels share one feed (one `runs:watch` per connect, not one per panel);
 * the last one to unsubscribe detaches it.
 */
import type {
  ApiError,
  AnyFaultName,
  CallbackName,
  RuntimeName,
  InvariantVerdict,
  ReleaseKind,
  ReleaseReply,
  RunRecord,
  RunSummary,
  ScenarioName,
  TimelineEvent,
  TimelineEventOf,
} from '../server/protocol.ts';
import type { Connection, LocalFailure } from './connection.ts';
import { commonFailureText } from './failures.ts';

/** Where a run is: waiting behind other runs on the stage, playing, or over. */
export type RunPhase = 'queued' | 'running' | 'finished' | 'failed';

/** One run, as far as this page knows it. */
export interface RunView {
  id: string;
  scenario: ScenarioName;
  /** Null when the page only saw events of the run so far (it joined mid-run). */
  summary: RunSummary | null;
  /** Every event the server sent, in sequence order, each once. */
  events: TimelineEvent[];
  phase: RunPhase;
  /** When the run was queued (server clock). */
  startedAt: number;
}

interface RunState {
  id: string;
  scenario: ScenarioName;
  summary: RunSummary | null;
  events: Map<number, TimelineEvent>;
  sorted: TimelineEvent[] | null;
  /** `run:started` was seen: the run left the queue. */
  started: boolean;
  startedAt: number;
}

/** How many runs of each scenario are kept (the latest is the one shown). */
const KEEP_PER_SCENARIO = 3;

export type FeedListener = () => void;

/** What a click on a run button got: the run, or why not. */
export type StartResult = { ok: true; run: RunView } | ({ ok: false } & ApiError) | LocalFailure;

export class RunFeed {
  private readonly runs = new Map<string, RunState>();
  private readonly listeners = new Set<FeedListener>();
  private readonly cleanups: (() => void)[] = [];
  private watchingNow = false;
  private watchError = '';

  constructor(private readonly connection: Connection) {
    this.cleanups.push(
      connection.on('run:started', (summary) => {
        const state = this.ensure(summary.id, summary.scenario, summary.startedAt);
        state.summary = summary;
        state.started = true;
        this.changed();
      }),
      connection.on('run:event', ({ runId, scenario, event }) => {
        const state = this.ensure(runId, scenario, event.kind === 'queued' ? event.at : null);
        this.addEvent(state, event);
        this.changed();
      }),
      connection.on('run:finished', (record) => {
        this.ingest(record);
        this.changed();
      }),
      connection.onState((state) => {
        if (state !== 'connected' && this.watchingNow) {
          this.watchingNow = false;
          this.changed();
        }
      }),
      connection.onConnect(() => void this.watch()),
      // Runs are read from the server's Redis: a watch refused while it was away is asked again once it is back.
      connection.onRedis((up) => {
        if (up && this.watchError) void this.watch();
      }),
    );
  }

  /** Joined the runs room on this connection: runs can be started and followed. */
  get watching(): boolean {
    return this.watchingNow && this.connection.connected;
  }

  /** Why the runs could not be followed, in words ('' when they can). */
  get error(): string {
    return this.watchError;
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** The newest run of a scenario (queued ones included), or null. */
  latest(scenario: ScenarioName): RunView | null {
    let best: RunState | null = null;
    for (const state of this.runs.values()) {
      if (state.scenario !== scenario) continue;
      if (!best || state.startedAt > best.startedAt || (state.startedAt === best.startedAt && state.id > best.id)) best = state;
    }
    return best ? view(best) : null;
  }

  get(id: string): RunView | null {
    const state = this.runs.get(id);
    return state ? view(state) : null;
  }

  /**
   * Asks the server to queue a run. Settles with the server's answer or a local
   * failure; on success the run is known here at once (phase `queued`).
   */
  async start(scenario: ScenarioName, fault?: AnyFaultName, runtime?: RuntimeName, release?: ReleaseKind): Promise<StartResult> {
    const result = await this.connection.request('run:start', {
      scenario,
      ...(fault ? { fault } : {}),
      ...(runtime ? { runtime } : {}),
      ...(release ? { release } : {}),
    });
    if (!result.ok) return result;
    const state = this.ensure(result.data.id, result.data.scenario, result.data.startedAt);
    state.summary ??= result.data;
    this.changed();
    return { ok: true, run: view(state) };
  }

  destroy(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.listeners.clear();
  }

  private async watch(): Promise<void> {
    this.watchingNow = false;
    const result = await this.connection.request('runs:watch', {});
    if (!result.ok) {
      this.watchError = `Cannot follow the runs: ${describeFailure(result)}`;
      this.changed();
      return;
    }
    this.watchError = '';
    this.watchingNow = true;
    for (const record of result.data) this.ingest(record);
    this.changed();
  }

  /** A whole record (the watch's, or a finished run's): the authority on everything it holds. */
  private ingest(record: RunRecord): void {
    const { events, ...summary } = record;
    const state = this.ensure(record.id, record.scenario, record.startedAt);
    state.summary = summary;
    state.startedAt = record.startedAt;
    // A record that has more than its `queued` event has left the queue.
    if (events.some((event) => event.kind !== 'queued') || record.status !== 'running') state.started = true;
    for (const event of events) this.addEvent(state, event);
  }

  private addEvent(state: RunState, event: TimelineEvent): void {
    if (state.events.has(event.seq)) return;
    state.events.set(event.seq, event);
    state.sorted = null;
    if (event.kind !== 'queued') state.started = true;
  }

  private ensure(id: string, scenario: ScenarioName, startedAt: number | null): RunState {
    let state = this.runs.get(id);
    if (!state) {
      state = { id, scenario, summary: null, events: new Map(), sorted: null, started: false, startedAt: startedAt ?? Date.now() };
      this.runs.set(id, state);
      this.prune(scenario);
    } else if (startedAt !== null && state.summary === null) {
      state.startedAt = startedAt;
    }
    return state;
  }

  private prune(scenario: ScenarioName): void {
    const ofScenario = [...this.runs.values()].filter((state) => state.scenario === scenario).sort((a, b) => b.startedAt - a.startedAt);
    for (const old of ofScenario.slice(KEEP_PER_SCENARIO)) this.runs.delete(old.id);
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

function view(state: RunState): RunView {
  state.sorted ??= [...state.events.values()].sort((a, b) => a.seq - b.seq);
  const status = state.summary?.status;
  const phase: RunPhase = status === 'finished' ? 'finished' : status === 'failed' ? 'failed' : state.started ? 'running' : 'queued';
  return { id: state.id, scenario: state.scenario, summary: state.summary, events: state.sorted, phase, startedAt: state.startedAt };
}

const feeds = new WeakMap<Connection, RunFeed>();

/**
 * The page's run feed, shared by every panel on the connection. Subscribe to be
 * told of changes; the returned function unsubscribes, and the last one out
 * detaches the feed from the connection.
 */
export function subscribeRuns(connection: Connection, listener: FeedListener): { feed: RunFeed; unsubscribe(): void } {
  let feed = feeds.get(connection);
  if (!feed) {
    feed = new RunFeed(connection);
    feeds.set(connection, feed);
  }
  const shared = feed;
  const off = shared.subscribe(listener);
  return {
    feed: shared,
    unsubscribe() {
      off();
      if (shared.listenerCount === 0 && feeds.get(connection) === shared) {
        feeds.delete(connection);
        shared.destroy();
      }
    },
  };
}

// ---- Words: what the panels say about runs, from what the server sent ----

/** The faults, in the talk's words. */
export const FAULT_LABELS: Record<AnyFaultName, string> = {
  'result-unstorable': "result can't be stored after callbacks were dispatched",
  'worker-killed': 'worker killed after dispatching link',
  'worker-killed-fail': 'worker killed after dispatching link, the job is then failed',
  'lock-lost': 'lock lost while the task still runs',
  'lock-lost-fail': 'lock lost while the task still runs, the job is then failed',
  'worker-killed-silent': 'worker killed before any callback',
  'task-fails': 'no fault: the task fails',
  none: 'no fault: the task succeeds',
  'on-success-raises': 'Task.on_success raises after link went out',
  'child-killed': 'pool child SIGKILLed after link went out',
  'result-too-large': 'a 2 MB result the result backend refuses',
  'worker-killed-dedup': 'worker killed after link, worker_deduplicate_successful_tasks on',
  'worker-killed-stored': 'worker killed after the result is stored, before the ack',
  'worker-killed-stored-dedup': 'worker killed after the result is stored, deduplication on',
  'child-killed-reject': 'pool child killed, task_reject_on_worker_lost',
  'time-limit': 'hard task_time_limit',
  'time-limit-on-success': 'hard task_time_limit inside on_success',
  'visibility-timeout': 'the task outlives the visibility timeout',
  'chain-frozen-v1': 'bug #6737: a frozen chain with on_error, task protocol 1',
  'chain-frozen-v2': 'a frozen chain with on_error, task protocol 2',
  'link-v1': 'link and link_error on task protocol 1',
  'result-get': 'the client waits with .get() (result pubsub)',
  'result-get-fails': 'the task fails, the client waits with .get()',
};

export const PHASE_LABELS: Record<RunPhase, string> = {
  queued: 'queued',
  running: 'running…',
  finished: 'finished',
  failed: 'run failed',
};

/** An error from a `run:start` or `runs:watch` Ack, or from the connection, in plain words. */
export function describeFailure(failure: ApiError | LocalFailure): string {
  switch (failure.error) {
    case 'stage_busy':
      return 'The stage is busy: other runs are waiting their turn. Try again in a moment.';
    case 'rate_limited':
      return 'Too many clicks: wait a second, then try again.';
    case 'timeout':
      return `${failure.message} The run may still have started: it will show here if it did.`;
    default:
      return commonFailureText(failure) ?? 'The server could not start the run. Try again.';
  }
}

/** The release reply an event carries, when it is a `release-reply`. */
export function releaseReplyOf(event: TimelineEvent): ReleaseReply | null {
  if (event.kind === 'release-reply') return event.data;
  return event.kind === 'pool-release' ? event.data.reply : null;
}

/** The verdict an `invariant` event carries. */
export function verdictOf(event: TimelineEvent): InvariantVerdict | null {
  return event.kind === 'invariant' ? event.data.verdict : null;
}

export type ReplyTone = 'released' | 'already_in_pool' | 'not_busy' | 'stale_release' | 'duplicate';

/**
 * How a release reply should look. A reply that pushed the executor (`added` 1)
 * although it was not busy (`wasBusy` 0) put a second copy in the list: only the
 * naive release (DEL + LPUSH) ever does that; the Lua release refuses.
 */
export function replyTone(reply: ReleaseReply): ReplyTone {
  if (reply.status === 'released' && reply.added === 1 && reply.wasBusy === 0) return 'duplicate';
  return reply.status;
}

export const REPLY_WORDS: Record<ReplyTone, string> = {
  released: 'released',
  already_in_pool: 'already_in_pool',
  not_busy: 'not_busy',
  stale_release: 'stale_release: refused',
  duplicate: 'pushed again: duplicate',
};

export interface CallbackStep {
  callback: CallbackName;
  /** The process the callback ran in (`cleanup-job` for link, a worker for link_error). */
  lane: string;
  /** The event of the reply, and the reply itself. */
  event: TimelineEventOf<'release-reply'>;
  reply: ReleaseReply;
  tone: ReplyTone;
}

/** Every release of a run with the callback that made it and where it ran, in the order Redis replied. */
export function callbackSteps(events: readonly TimelineEvent[]): CallbackStep[] {
  const steps: CallbackStep[] = [];
  for (const event of events) {
    if (event.kind !== 'release-reply') continue;
    steps.push({ callback: event.data.callback, lane: event.data.callbackLane, event, reply: event.data, tone: replyTone(event.data) });
  }
  return steps;
}

/** A duration for the audience: "64 ms", "1.3 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** `idem_double_releases_total{pool="..."} N` lines of the Prometheus text format, summed. */
export function parseDoubleReleases(text: string): { total: number; byPool: Record<string, number> } {
  const byPool: Record<string, number> = {};
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^idem_double_releases_total(?:\{([^}]*)\})?\s+([0-9.eE+-]+)/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    if (!Number.isFinite(value)) continue;
    total += value;
    const pool = /pool="([^"]*)"/.exec(match[1] ?? '')?.[1] ?? '';
    byPool[pool] = (byPool[pool] ?? 0) + value;
  }
  return { total, byPool };
}
