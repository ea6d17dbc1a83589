/**
 * "Testing the Edge Cases": the talk's test, test_double_callback_resilience,
 * run live. The `edge-case-test` scenario runs the real test file of the suite
 * (tests/integration/talk.test.ts) with node's test runner against the live
 * Redis; the panel shows the runner's output as it comes (`test-output`), the
 * result (`test-result`) and the log line the test captured (`captured-log`).
 */
import type { TimelineEvent } from '../../server/protocol.ts';
import type { Connection } from '../connection.ts';
import { actionButton, h } from '../dom.ts';
import { PanelFrame } from '../frame.ts';
import type { PanelContext, PanelController, PanelOptions } from '../panel.ts';
import { errorLine } from '../runControls.ts';
import { PHASE_LABELS, describeFailure, subscribeRuns, type RunFeed, type RunView } from '../runs.ts';
import { phaseText } from '../runView.ts';
import '../runs.css';

const SCENARIO = 'edge-case-test';
const WARNING = 'Double release detected';

interface TestResultData {
  passed?: boolean;
  exitCode?: number | null;
  results?: { name: string; ok: boolean }[];
}

export class EdgeCaseTestPanel implements PanelController {
  private readonly connection: Connection;
  private frame: PanelFrame | null = null;
  private feed: RunFeed | null = null;
  private readonly unsubscribers: (() => void)[] = [];
  private run: RunView | null = null;
  private pending = false;
  private shownRun: string | null = null;
  private shownLines = 0;

  private readonly runButton = actionButton('▶ Run the test', () => void this.start());
  private readonly phase = h('span', { className: 'lp-phase', attrs: { 'data-role': 'phase' } });
  private readonly error = errorLine();
  private readonly result = h('div', { className: 'lp-test-result', attrs: { 'data-role': 'test-result', 'aria-live': 'polite' } });
  private readonly output = h('ol', { className: 'lp-terminal', attrs: { 'data-role': 'test-output', 'aria-label': 'test runner output' } });
  private readonly captured = h('div', { className: 'lp-captured', attrs: { 'data-role': 'captured-log' } });

  constructor(private readonly context: PanelContext) {
    this.connection = context.connection();
    this.runButton.dataset.role = 'run';
    this.runButton.title = 'Run tests/integration/talk.test.ts with node --test against the live Redis (run:start edge-case-test)';
  }

  render(): void {
    this.frame = new PanelFrame(this.context.element, this.connection, { title: 'The talk’s test', subtitle: 'node --test, live Redis' });
    this.frame.root.classList.add('lp-runs', 'lp-edge');
    this.frame.body.append(
      h('div', { className: 'lp-actions lp-run-controls' }, this.runButton, this.phase),
      this.error.element,
      this.result,
      h('div', { className: 'lp-label' }, h('span', { text: 'test runner output' }), h('span', { className: 'lp-hint', text: 'tests/integration/talk.test.ts' })),
      this.output,
      this.captured,
    );
    this.frame.render();
    const runs = subscribeRuns(this.connection, () => this.renderRun());
    this.feed = runs.feed;
    this.unsubscribers.push(runs.unsubscribe, this.connection.onState(() => this.renderControls()));
    this.renderRun();
  }

  configure(_options: PanelOptions): void {}

  update(): void {
    this.frame?.update();
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
    const result = await this.feed.start(SCENARIO);
    this.pending = false;
    this.error.show(result.ok ? '' : describeFailure(result));
    this.renderControls();
  }

  private renderRun(): void {
    const run = this.feed?.latest(SCENARIO) ?? null;
    this.run = run;
    this.phase.textContent = run ? phaseText(run) : '';
    this.phase.className = `lp-phase lp-phase-${run?.phase ?? 'none'}`;
    this.renderResult(run);
    this.renderOutput(run);
    this.renderCaptured(run);
    this.renderControls();
  }

  private renderResult(run: RunView | null): void {
    const event = run?.events.find((e) => e.kind === 'test-result');
    this.result.dataset.state = 'none';
    if (!run) {
      this.result.replaceChildren(h('div', { className: 'lp-muted', text: 'Press Run: the test releases executor-1 twice, then asserts it is listed once and that the warning was logged.' }));
      return;
    }
    if (!event) {
      this.result.dataset.state = run.phase === 'failed' ? 'failed' : 'pending';
      this.result.replaceChildren(
        h('div', { className: 'lp-test-word', text: run.phase === 'failed' ? 'ERROR' : PHASE_LABELS[run.phase] }),
        h('div', { className: 'lp-test-name', text: run.phase === 'failed' ? (run.summary?.error ?? 'the run failed') : 'test_double_callback_resilience' }),
      );
      return;
    }
    const data = (event.data ?? {}) as TestResultData;
    const passed = data.passed === true;
    this.result.dataset.state = passed ? 'passed' : 'failed';
    this.result.replaceChildren(
      h('div', { className: 'lp-test-word', text: passed ? '✓ PASSED' : '✗ FAILED' }),
      h('div', { className: 'lp-test-name', text: event.text }),
      h(
        'ul',
        { className: 'lp-test-cases' },
        ...(data.results ?? []).map((result) => h('li', { className: result.ok ? 'lp-good' : 'lp-bad', text: `${result.ok ? '✓' : '✗'} ${result.name}` })),
      ),
    );
  }

  /** Appends the new lines only (a live run sends them one by one); a new run starts the box afresh. */
  private renderOutput(run: RunView | null): void {
    const lines = (run?.events ?? []).filter((event) => event.kind === 'test-output');
    if (run?.id !== this.shownRun || lines.length < this.shownLines) {
      this.shownRun = run?.id ?? null;
      this.shownLines = 0;
      this.output.replaceChildren();
    }
    if (!run) {
      this.output.replaceChildren(h('li', { className: 'lp-term-note', text: '$ node --test tests/integration/talk.test.ts' }));
      return;
    }
    if (this.shownLines === 0) this.output.replaceChildren(h('li', { className: 'lp-term-note', text: '$ node --test tests/integration/talk.test.ts' }));
    for (const event of lines.slice(this.shownLines)) this.output.append(outputLine(event));
    this.shownLines = lines.length;
    this.output.scrollTop = this.output.scrollHeight;
  }

  private renderCaptured(run: RunView | null): void {
    const logs = (run?.events ?? []).filter((event) => event.kind === 'captured-log');
    if (logs.length === 0) {
      this.captured.hidden = run === null;
      this.captured.replaceChildren(
        h('div', { className: 'lp-label', text: 'captured log' }),
        h('div', { className: 'lp-muted', text: run?.phase === 'finished' ? 'no warning was captured' : 'the warning the test expects shows here' }),
      );
      return;
    }
    this.captured.hidden = false;
    this.captured.replaceChildren(
      h('div', { className: 'lp-label' }, h('span', { text: 'captured log' }), h('span', { className: 'lp-hint', text: `assert "${WARNING}" in captured_logs` })),
      ...logs.map((event) => h('code', { className: 'lp-captured-line' }, ...highlight(event.text, WARNING))),
    );
  }

  private renderControls(): void {
    const busy = this.pending || this.run?.phase === 'queued' || this.run?.phase === 'running';
    this.runButton.disabled = !this.feed?.watching || busy;
    this.runButton.setAttribute('aria-busy', String(busy));
    this.error.showFeedError(this.feed?.error ?? '');
  }
}

function outputLine(event: TimelineEvent): HTMLElement {
  const text = event.text;
  const tone = /^\s*not ok\b/.test(text) ? 'lp-term-bad' : /^\s*ok\b/.test(text) ? 'lp-term-good' : text.includes(WARNING) ? 'lp-term-warn' : /^\s*#/.test(text) ? 'lp-term-comment' : '';
  return h('li', { className: tone, text, attrs: { title: text } });
}

/** `text` with each `needle` in a <mark>. */
function highlight(text: string, needle: string): (string | HTMLElement)[] {
  const parts: (string | HTMLElement)[] = [];
  let rest = text;
  for (let index = rest.indexOf(needle); index >= 0; index = rest.indexOf(needle)) {
    if (index > 0) parts.push(rest.slice(0, index));
    parts.push(h('mark', { text: needle }));
    rest = rest.slice(index + needle.length);
  }
  if (rest) parts.push(rest);
  return parts;
}
