/**
 * "The Journey to Idempotency": the talk's three attempts side by side, under
 * the same fault, each on its own pool:
 *  - attempt 1, link_error only (naive release): a success never releases, the
 *    executor leaks;
 *  - attempt 2, both callbacks with the naive release: the executor is pushed
 *    twice and then handed to two evals at once;
 *  - attempt 3, both callbacks with the Lua release: `already_in_pool`, sound.
 * "Run all three" queues the three scenarios; the server plays them one after
 * another and each column follows its own run (queued, running, finished). The
 * headline of each verdict is the server's verdict (sound or not, and what its
 * problems say); the talk's own words are added where the run agrees with them.
 */
import type { CeleryFaultName, FaultName, ScenarioName, VerdictKind } from '../../server/protocol.ts';
import { actionButton, h } from '../dom.ts';
import type { PanelContext } from '../panel.ts';
import { faultSelect, followFault, selectedFault } from '../runControls.ts';
import { RunPanel, type ReplayPlan } from '../runPanel.ts';
import { recordedFaults } from '../replay/recordings.ts';
import { PHASE_LABELS, formatDuration, type RunView } from '../runs.ts';
import { RunDetails, callbackList, phaseText, playedMs, verdictBlock } from '../runView.ts';
import { Timeline } from '../timeline.ts';
import { runtimeToggle } from '../runtimeToggle.ts';
import '../runs.css';

interface Attempt {
  scenario: ScenarioName;
  title: string;
  /** What it attaches and how it releases. */
  how: string;
  /** The talk's words for the outcome it expects ("# Result: ..."). */
  words: Partial<Record<VerdictKind, string>>;
}

const ATTEMPTS: readonly Attempt[] = [
  { scenario: 'attempt-1', title: 'Attempt 1', how: 'link_error only', words: { leak: 'Lost executors on success' } },
  { scenario: 'attempt-2', title: 'Attempt 2', how: 'both · naive release', words: { duplicate: 'Double releases causing chaos' } },
  { scenario: 'attempt-3', title: 'Attempt 3', how: 'both · Lua release', words: { sound: 'Safe under all conditions' } },
];

const FAULTS: readonly FaultName[] = ['worker-killed', 'result-unstorable', 'lock-lost', 'worker-killed-fail', 'lock-lost-fail', 'none', 'task-fails'];
const DEFAULT_FAULT: FaultName = 'worker-killed';
/** On real Celery: the same three attempts under Celery's own mechanisms (common/celeryFaults.ts). */
const CELERY_FAULTS: readonly CeleryFaultName[] = ['worker-killed', 'child-killed', 'on-success-raises', 'result-unstorable', 'time-limit', 'none', 'task-fails'];

interface Column {
  attempt: Attempt;
  root: HTMLElement;
  phase: HTMLElement;
  timeline: Timeline;
  lower: HTMLElement;
  run: RunView | null;
}

export class JourneyPanel extends RunPanel {
  /** The attempt shown whole (tap "details"), or null for the three columns. */
  private detailOf: Attempt | null = null;

  private readonly select = faultSelect(FAULTS, DEFAULT_FAULT, 'Fault for all three attempts');
  private readonly runtime = runtimeToggle(this.select, { bullmq: FAULTS, celery: CELERY_FAULTS });
  private readonly runButton = actionButton('▶ Run all three', () => void this.startAll());
  private readonly columnsBox = h('div', { className: 'lp-cols', attrs: { 'data-role': 'columns' } });
  private readonly columns: Column[];
  private readonly detailBox = h('div', { className: 'lp-col-detail', attrs: { 'data-role': 'detail' } });
  private readonly detailTitle = h('span', { className: 'lp-col-detail-title' });
  private readonly details = new RunDetails('Not run yet: press “Run all three”.');

  constructor(context: PanelContext) {
    super(context, { title: 'Three attempts', subtitle: 'same fault · real runs' });
    this.runButton.dataset.role = 'run-all';
    this.runButton.title = 'Queue attempt 1, 2 and 3 under this fault; the server plays them one after another';
    this.columns = ATTEMPTS.map((attempt) => this.createColumn(attempt));
    this.columnsBox.append(...this.columns.map((column) => column.root));
    const back = actionButton('← all three', () => this.showDetail(null), 'lp-button lp-button-small');
    back.dataset.role = 'back';
    this.detailBox.append(h('div', { className: 'lp-col-detail-head' }, back, this.detailTitle), this.details.element);
    this.detailBox.hidden = true;
    this.select.addEventListener('change', () => this.replayAgain());
  }

  protected replayPlan(): ReplayPlan {
    const fault = selectedFault(this.select, DEFAULT_FAULT);
    return { runs: ATTEMPTS.map((attempt) => ({ scenario: attempt.scenario, fault })), sequential: true };
  }

  protected content(): HTMLElement[] {
    return [h('div', { className: 'lp-actions lp-run-controls' }, this.runtime.element, this.select, this.runButton), this.error.element, this.columnsBox, this.detailBox];
  }

  override update(): void {
    super.update();
    for (const column of this.columns) column.timeline.refresh();
    this.details.refresh();
  }

  private createColumn(attempt: Attempt): Column {
    const phase = h('span', { className: 'lp-phase', attrs: { 'data-role': 'phase' } });
    const timeline = new Timeline({ compact: true });
    const lower = h('div', { className: 'lp-col-lower' });
    const more = actionButton('⤢', () => this.showDetail(attempt), 'lp-col-more');
    more.dataset.role = 'details';
    more.title = `${attempt.title} in full: every lane, every reply, the mechanism`;
    more.setAttribute('aria-label', `${attempt.title}: details`);
    const root = h(
      'div',
      { className: 'lp-col', attrs: { role: 'group', 'data-scenario': attempt.scenario, 'aria-label': attempt.title } },
      h('div', { className: 'lp-col-head' }, h('strong', { text: attempt.title }), more),
      h('div', { className: 'lp-col-how' }, h('span', { text: attempt.how }), phase),
      timeline.element,
      lower,
    );
    return { attempt, root, phase, timeline, lower, run: null };
  }

  private async startAll(): Promise<void> {
    const fault = selectedFault(this.select, this.runtime.defaultFault());
    const runtime = this.runtime.runtime();
    // In order: the server plays queued runs one after another, attempt 1 first.
    await this.startRuns('run', ATTEMPTS.map((attempt) => ({ scenario: attempt.scenario, fault, runtime, label: attempt.title })));
  }

  private showDetail(attempt: Attempt | null): void {
    this.detailOf = attempt;
    this.columnsBox.hidden = attempt !== null;
    this.detailBox.hidden = attempt === null;
    this.renderRuns();
    this.details.refresh();
  }

  protected renderRuns(): void {
    for (const column of this.columns) {
      const run = this.feed?.latest(column.attempt.scenario) ?? null;
      column.run = run;
      this.renderColumn(column, run);
    }
    const runs = this.columns.map((column) => column.run);
    this.frame?.configure({ title: 'Three attempts', subtitle: faultLine(runs) });
    const faults = new Set(runs.map((run) => run?.summary?.fault));
    const runtimes = new Set(runs.flatMap((run) => (run?.summary ? [run.summary.runtime ?? 'bullmq'] : [])));
    if (runtimes.size === 1) this.runtime.follow([...runtimes][0]);
    if (faults.size === 1) followFault(this.select, [...faults][0]);
    if (this.detailOf) {
      const column = this.columns.find((c) => c.attempt === this.detailOf);
      this.detailTitle.textContent = `${this.detailOf.title}: ${this.detailOf.how}`;
      this.details.update(column?.run ?? null);
    }
    this.renderControls();
  }

  private renderColumn(column: Column, run: RunView | null): void {
    column.root.dataset.phase = run?.phase ?? 'none';
    if (run) column.root.dataset.runId = run.id;
    else delete column.root.dataset.runId;
    column.phase.textContent = run ? shortPhase(run) : 'not run';
    column.phase.title = run ? phaseText(run) : 'not run yet';
    column.phase.className = `lp-phase lp-phase-${run?.phase ?? 'none'}`;
    column.timeline.update(run?.events ?? [], { live: run?.phase === 'running', runId: run?.id ?? null });
    if (!run) {
      column.lower.replaceChildren(h('p', { className: 'lp-muted lp-empty', text: 'not run yet' }));
      return;
    }
    const finished = run.phase === 'finished' || run.phase === 'failed';
    // The replies, then the verdict: its headline stays in sight; long problems let the column scroll.
    column.lower.replaceChildren(callbackList(run.events, { compact: true, finished }), verdictBlock(run, { compact: true, words: column.attempt.words }));
  }

  protected renderControls(): void {
    this.renderRunButton(this.runButton, this.columns.map((column) => column.run));
    // Replaying, only the faults with a recording can be picked.
    const recorded = new Set(recordedFaults(ATTEMPTS[0]!.scenario));
    for (const option of this.select.options) option.disabled = this.replay !== null && !recorded.has(option.value as FaultName);
  }
}

/** "✓ 1.5 s": a column's phase in the few characters it has. */
function shortPhase(run: RunView): string {
  const played = playedMs(run);
  if (run.phase === 'finished' && played !== null) return `✓ ${formatDuration(played)}`;
  return PHASE_LABELS[run.phase];
}

/** The panel's subtitle: the fault the runs shown played under. */
function faultLine(runs: readonly (RunView | null)[]): string {
  const faults = [...new Set(runs.flatMap((run) => (run?.summary ? [run.summary.fault] : [])))];
  if (faults.length === 0) return 'same fault · real runs';
  const where = runs.some((run) => run?.summary?.runtime === 'celery') ? 'on Celery, ' : '';
  return faults.length === 1 ? `${where}all under ${faults[0]}` : `${where}under ${faults.join(', ')}`;
}
