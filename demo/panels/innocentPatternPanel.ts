/**
 * "Act 1: The Innocent Pattern": one eval with both callbacks attached (link on
 * success, queued as a job; link_error on failure, called in the worker), run for
 * real on BullMQ with two worker processes, under a fault the viewer picks. The
 * lanes show both callbacks firing, Redis' reply to each release, the pool's
 * verdict and the mechanism that made both run, in words.
 *
 * Everything shown is the server's: the run is the `innocent-pattern` scenario,
 * started with `run:start`, followed through `run:event` / `run:finished`; a late
 * joiner gets the latest run from `runs:watch`.
 */
import type { FaultName } from '../../server/protocol.ts';
import type { Connection } from '../connection.ts';
import { actionButton, h } from '../dom.ts';
import { PanelFrame } from '../frame.ts';
import type { PanelContext, PanelController, PanelOptions } from '../panel.ts';
import { errorLine, faultSelect, followFault, selectedFault } from '../runControls.ts';
import { describeFailure, subscribeRuns, type RunFeed, type RunView } from '../runs.ts';
import { RunDetails } from '../runView.ts';
import '../runs.css';

const SCENARIO = 'innocent-pattern';
const FAULTS: readonly FaultName[] = ['result-unstorable', 'worker-killed', 'lock-lost', 'worker-killed-fail', 'lock-lost-fail'];
const DEFAULT_FAULT: FaultName = 'result-unstorable';

export class InnocentPatternPanel implements PanelController {
  private readonly connection: Connection;
  private frame: PanelFrame | null = null;
  private feed: RunFeed | null = null;
  private readonly unsubscribers: (() => void)[] = [];
  private run: RunView | null = null;
  private pending = false;

  private readonly select = faultSelect(FAULTS, DEFAULT_FAULT, 'Fault to inject');
  private readonly runButton = actionButton('▶ Run', () => void this.start());
  private readonly error = errorLine();
  private readonly details = new RunDetails(
    'Pick a fault and press Run: one real eval on BullMQ, with link and link_error both attached, and two worker processes.',
  );

  constructor(private readonly context: PanelContext) {
    this.connection = context.connection();
    this.runButton.dataset.role = 'run';
    this.runButton.title = 'Run one eval with both callbacks under this fault (run:start innocent-pattern)';
  }

  render(): void {
    this.frame = new PanelFrame(this.context.element, this.connection, { title: 'Both callbacks', subtitle: 'link + link_error · real BullMQ' });
    this.frame.root.classList.add('lp-runs');
    this.frame.body.append(h('div', { className: 'lp-actions lp-run-controls' }, this.select, this.runButton), this.error.element, this.details.element);
    this.frame.render();
    const runs = subscribeRuns(this.connection, () => this.renderRun());
    this.feed = runs.feed;
    this.unsubscribers.push(runs.unsubscribe, this.connection.onState(() => this.renderControls()));
    this.renderRun();
  }

  configure(_options: PanelOptions): void {}

  update(): void {
    this.frame?.update();
    this.details.refresh();
    this.renderControls();
  }

  destroy(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    this.feed = null;
    this.frame?.destroy();
    this.frame = null;
  }

  private async start(): Promise<void> {
    if (!this.feed) return;
    this.pending = true;
    this.renderControls();
    const result = await this.feed.start(SCENARIO, selectedFault(this.select, DEFAULT_FAULT));
    this.pending = false;
    this.error.show(result.ok ? '' : describeFailure(result));
    this.renderControls();
  }

  private renderRun(): void {
    this.run = this.feed?.latest(SCENARIO) ?? null;
    followFault(this.select, this.run?.summary?.fault);
    this.details.update(this.run);
    this.renderControls();
  }

  private renderControls(): void {
    const busy = this.pending || this.run?.phase === 'queued' || this.run?.phase === 'running';
    this.runButton.disabled = !this.feed?.watching || busy;
    this.runButton.setAttribute('aria-busy', String(busy));
    this.error.showFeedError(this.feed?.error ?? '');
  }
}
