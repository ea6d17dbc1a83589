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
import type { CeleryFaultName, FaultName } from '../../server/protocol.ts';
import { actionButton, h } from '../dom.ts';
import type { PanelContext } from '../panel.ts';
import { faultSelect, followFault, selectedFault } from '../runControls.ts';
import { RunPanel, type ReplayPlan } from '../runPanel.ts';
import type { RunView } from '../runs.ts';
import { RunDetails } from '../runView.ts';
import { runtimeToggle } from '../runtimeToggle.ts';
import '../runs.css';

const SCENARIO = 'innocent-pattern';
const FAULTS: readonly FaultName[] = ['result-unstorable', 'worker-killed', 'lock-lost', 'worker-killed-fail', 'lock-lost-fail'];
const DEFAULT_FAULT: FaultName = 'result-unstorable';
/** On real Celery: the mechanisms that run both callbacks, or link twice (common/celeryFaults.ts). */
const CELERY_FAULTS: readonly CeleryFaultName[] = ['result-unstorable', 'on-success-raises', 'child-killed', 'worker-killed', 'time-limit-on-success'];

export class InnocentPatternPanel extends RunPanel {
  private run: RunView | null = null;

  private readonly select = faultSelect(FAULTS, DEFAULT_FAULT, 'Fault to inject');
  private readonly runtime = runtimeToggle(this.select, { bullmq: FAULTS, celery: CELERY_FAULTS }, (runtime) =>
    this.frame?.configure({ title: 'Both callbacks', subtitle: `link + link_error · real ${runtime === 'celery' ? 'Celery' : 'BullMQ'}` }),
  );
  private readonly runButton = actionButton('▶ Run', () =>
    void this.startRuns('run', [{ scenario: SCENARIO, fault: selectedFault(this.select, this.runtime.defaultFault()), runtime: this.runtime.runtime() }]),
  );
  private readonly details = new RunDetails(
    'Pick a fault and press Run: one real eval on BullMQ, with link and link_error both attached, and two worker processes.',
  );

  constructor(context: PanelContext) {
    super(context, { title: 'Both callbacks', subtitle: 'link + link_error · real BullMQ' });
    this.runButton.dataset.role = 'run';
    this.runButton.title = 'Run one eval with both callbacks under this fault (run:start innocent-pattern)';
    // Replaying, a fault picked plays that fault's recording.
    this.select.addEventListener('change', () => this.replayAgain());
  }

  protected replayPlan(): ReplayPlan {
    return { runs: [{ scenario: SCENARIO, fault: selectedFault(this.select, DEFAULT_FAULT) }], sequential: true };
  }

  protected content(): HTMLElement[] {
    return [h('div', { className: 'lp-actions lp-run-controls' }, this.runtime.element, this.select, this.runButton), this.error.element, this.details.element];
  }

  override update(): void {
    super.update();
    this.details.refresh();
  }

  protected renderRuns(): void {
    this.run = this.feed?.latest(SCENARIO) ?? null;
    if (this.run?.summary) this.runtime.follow(this.run.summary.runtime);
    followFault(this.select, this.run?.summary?.fault);
    this.details.update(this.run);
    this.renderControls();
  }

  protected renderControls(): void {
    this.renderRunButton(this.runButton, [this.run]);
  }
}
