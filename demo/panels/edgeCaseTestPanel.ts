/**
 * "Testing the Edge Cases": the talk's test, test_double_callback_resilience,
 * run live. The `edge-case-test` scenario runs the real test file of the suite
 * (tests/integration/talk.test.ts) with node's test runner against the live
 * Redis; the panel shows the runner's output as it comes (`test-output`), the
 * result (`test-result`) and the log line the test captured (`captured-log`).
 */
import type { TestLineType, TimelineEventOf } from '../../server/protocol.ts';
import { actionButton, h, showWholeLines } from '../dom.ts';
import type { PanelContext } from '../panel.ts';
import { RunPanel, type ReplayPlan } from '../runPanel.ts';
import { PHASE_LABELS, type RunView } from '../runs.ts';
import { phaseText } from '../runView.ts';
import '../runs.css';

const SCENARIO = 'edge-case-test';
const WARNING = 'Double release detected';

export class EdgeCaseTestPanel extends RunPanel {
  private run: RunView | null = null;
  private shownRun: string | null = null;
  private shownLines = 0;

  private readonly runButton = actionButton('▶ Run the test', () => void this.startRuns('run', [{ scenario: SCENARIO }]));
  private readonly phase = h('span', { className: 'lp-phase', attrs: { 'data-role': 'phase' } });
  private readonly result = h('div', { className: 'lp-test-result', attrs: { 'data-role': 'test-result', 'aria-live': 'polite' } });
  private readonly output = h('ol', { className: 'lp-terminal', attrs: { 'data-role': 'test-output', 'aria-label': 'test runner output' } });
  private readonly captured = h('div', { className: 'lp-captured', attrs: { 'data-role': 'captured-log' } });

  constructor(context: PanelContext) {
    super(context, { title: 'The talk’s test', subtitle: 'node --test, live Redis', replaySubtitle: 'node --test, recorded run', classes: ['lp-edge'] });
    this.runButton.dataset.role = 'run';
    this.runButton.title = 'Run tests/integration/talk.test.ts with node --test against the live Redis (run:start edge-case-test)';
  }

  protected replayPlan(): ReplayPlan {
    return { runs: [{ scenario: SCENARIO }], sequential: true };
  }

  protected content(): HTMLElement[] {
    // The newest lines of the output, whole: the older ones give way.
    this.unsubscribers.push(showWholeLines(this.output, 'last', (line) => VERDICT_LINES.has(line.dataset.lineType ?? '')));
    return [
      h('div', { className: 'lp-actions lp-run-controls' }, this.runButton, this.phase),
      this.error.element,
      this.result,
      h('div', { className: 'lp-label' }, h('span', { text: 'test runner output' }), h('span', { className: 'lp-hint', text: 'tests/integration/talk.test.ts' })),
      this.output,
      this.captured,
    ];
  }

  protected renderRuns(): void {
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
    const event = run?.events.find((e): e is TimelineEventOf<'test-result'> => e.kind === 'test-result');
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
    const data = event.data;
    const passed = data.passed;
    this.result.dataset.state = passed ? 'passed' : 'failed';
    this.result.replaceChildren(
      h('div', { className: 'lp-test-word', text: passed ? '✓ PASSED' : '✗ FAILED' }),
      h('div', { className: 'lp-test-name', text: event.text }),
      h(
        'ul',
        { className: 'lp-test-cases' },
        ...data.results.map((result) => h('li', { className: result.ok ? 'lp-good' : 'lp-bad', text: `${result.ok ? '✓' : '✗'} ${result.name}` })),
      ),
    );
  }

  /** Appends the new lines only (a live run sends them one by one); a new run starts the box afresh. */
  private renderOutput(run: RunView | null): void {
    const lines = (run?.events ?? []).filter((event): event is TimelineEventOf<'test-output'> => event.kind === 'test-output');
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
    const logs = (run?.events ?? []).filter((event): event is TimelineEventOf<'captured-log'> => event.kind === 'captured-log');
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
      ...logs.map((event) => h('code', { className: 'lp-captured-line' }, ...highlight(event.data.line, WARNING))),
    );
  }

  protected renderControls(): void {
    this.renderRunButton(this.runButton, [this.run]);
  }
}

/** How each kind of runner line looks (the server read the TAP). */
/** The runner's verdicts and warnings: the lines that stay when the terminal has room for few. */
const VERDICT_LINES = new Set<string>(['pass', 'fail', 'warning'] satisfies TestLineType[]);
const LINE_TONES: Record<TestLineType, string> = { pass: 'lp-term-good', fail: 'lp-term-bad', warning: 'lp-term-warn', comment: 'lp-term-comment', plain: '' };

function outputLine(event: TimelineEventOf<'test-output'>): HTMLElement {
  const { line, lineType } = event.data;
  return h('li', { className: LINE_TONES[lineType], text: line, attrs: { title: line, 'data-line-type': lineType } });
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
