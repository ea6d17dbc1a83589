/**
 * What a viewer can do to a demo pool, in one place for both doors (HTTP and
 * socket.io): resolve the pool, act, and announce what happened so every viewer
 * sees the same reply, whoever clicked.
 */
import { EventEmitter } from 'node:events';
import type { AllocateReply, AllocateRequest, PoolAction, ReleaseReply, ReleaseRequest, ResetRequest } from '../protocol.ts';
import { ClientError } from '../errors.ts';
import type { ExecutorPools } from './executorPool.ts';

export const DEFAULT_POOL = 'main';

export class PoolActions extends EventEmitter<{ acted: [action: PoolAction] }> {
  constructor(
    readonly pools: ExecutorPools,
    /** Every pool the server made: anyone may watch them, the presenter may reset them. */
    private readonly knownPools: ReadonlySet<string>,
    /** The pools a viewer may allocate from and release into; the scenario pools belong to their runs. */
    private readonly viewerPools: ReadonlySet<string> = new Set([DEFAULT_POOL]),
  ) {
    super();
  }

  /** The pool a request names (default `main`); only pools the server made can be touched. */
  resolvePool(name: string | undefined, purpose: 'watch' | 'act' = 'watch'): string {
    const pool = name ?? DEFAULT_POOL;
    if (!this.knownPools.has(pool)) throw new ClientError('bad_request', `unknown pool "${pool}"`);
    if (purpose === 'act' && !this.viewerPools.has(pool)) {
      throw new ClientError('bad_request', `pool "${pool}" belongs to its scenario: start a run of it instead`);
    }
    return pool;
  }

  async allocate(request: AllocateRequest): Promise<AllocateReply> {
    const pool = this.resolvePool(request.pool, 'act');
    const allocation = await this.pools.allocate(pool, request.evalId);
    if (!allocation) throw new ClientError('pool_empty', `pool "${pool}" has no available executor`);
    this.emit('acted', { kind: 'allocated', pool, allocation, at: Date.now() });
    return allocation;
  }

  async release(request: ReleaseRequest): Promise<ReleaseReply> {
    const pool = this.resolvePool(request.pool, 'act');
    const reply = await this.releaseOnce(pool, request);
    this.emit('acted', { kind: 'released', pool, releases: [reply], at: Date.now() });
    return reply;
  }

  /** Both callbacks at once: two releases sent back to back, as link and link_error would. */
  async doubleRelease(request: ReleaseRequest): Promise<ReleaseReply[]> {
    const pool = this.resolvePool(request.pool, 'act');
    const releases = await Promise.all([this.releaseOnce(pool, request), this.releaseOnce(pool, request)]);
    this.emit('acted', { kind: 'released', pool, releases, at: Date.now() });
    return releases;
  }

  /**
   * With the eval's token: the fenced release; without: the talk's script, as the
   * talk's slides show it. A viewer naming an executor the pool lacks is told so
   * either way (the fenced script itself would just answer stale_release).
   */
  private async releaseOnce(pool: string, request: ReleaseRequest): Promise<ReleaseReply> {
    if (request.token === undefined || request.evalId === undefined) return this.pools.release(pool, request.executor);
    await this.pools.assertMember(pool, request.executor);
    return this.pools.releaseFenced(pool, request.executor, { evalId: request.evalId, token: request.token });
  }

  async reset(request: ResetRequest): Promise<number> {
    const pool = this.resolvePool(request.pool);
    const size = await this.pools.reset(pool, request.size);
    this.emit('acted', { kind: 'reset', pool, size, at: Date.now() });
    return size;
  }
}
