/**
 * Beyond the talk: the late duplicate. A pool of one executor; eval-A's link
 * releases it, eval-B is handed it, and eval-A's link_error arrives 1.5 s late.
 * One button plays it with the talk's release, one with the fenced release
 * (the `late-duplicate` scenario, `run:start` with `release`). The panel shows
 * the run's lanes, each release's reply as Redis gave it, and what the history
 * checker found in the run's recorded history: where the invariant first broke
 * and the operations that led there, or that it held throughout.
 */
import type { ReleaseKind, TimelineEventOf } from '../../server/protocol.ts';
import { formatOperation } from '../../common/historyText.ts';
import { actionButton, h } from '../dom.ts';
import type { PanelContext } from '../panel.ts';
import { RunPanel, type ReplayPlan } from '../runPanel.ts';
import type { RunView } from '../runs.ts';
import { RunDetails } from '../runView.ts';
import '../runs.css';
import './lateDuplicate.css';

const SCENARIO = 'late-duplicate';

export class LateDuplicatePanel extends RunPanel {
  private run: RunView | null = null;

  private readonly talkButton = actionButton("▶ Talk's release", () => void this.play('lua'));
  private readonly fencedButton = actionButton('▶ Fenced release', () => void this.play('fenced'));
  private readonly details = new RunDetails(
    "Press a button: eval-A's link releases executor-1, eval-B takes it, and eval-A's link_error comes 1.5 s late. " +
      "The talk's release frees eval-B's executor; the fenced one refuses.",
  );
  private readonly checker = h('div', { className: 'lp-checker', attrs: { 'data-role': 'history-check', 'aria-live': 'polite' } });

  constructor(context: PanelContext) {
    super(context, { title: 'Beyond the talk: the late duplicate', subtitle: 'pool of 1 · link_error 1.5 s late', classes: ['lp-late'] });
    this.talkButton.dataset.role = 'run-lua';
    this.talkButton.title = "Play it with the talk's release, lua/release_executor.lua (run:start late-duplicate, release lua)";
    this.fencedButton.dataset.role = 'run-fenced';
    this.fencedButton.title = 'Play it with the fenced release, lua/release_executor_fenced-2.lua (run:start late-duplicate, release fenced)';
  }

  /** Replayed where no server answers: the recorded run with the talk's release (the fenced one plays live only). */
  protected replayPlan(): ReplayPlan {
    return { runs: [{ scenario: SCENARIO }], sequential: true };
  }

  protected content(): HTMLElement[] {
    return [
      h('div', { className: 'lp-actions lp-run-controls' }, this.talkButton, this.fencedButton),
      this.error.element,
      this.details.element,
    ];
  }

  override update(): void {
    super.update();
    this.details.refresh();
  }

  private play(release: ReleaseKind): Promise<void> {
    return this.startRuns(release, [{ scenario: SCENARIO, release, label: release === 'lua' ? "the talk's release" : 'the fenced release' }]);
  }

  protected renderRuns(): void {
    this.run = this.feed?.latest(SCENARIO) ?? null;
    this.details.update(this.run);
    this.renderChecker(this.run);
    // First in the run's scrolling lower part, which the details rebuild on every update.
    this.details.element.querySelector('.lp-run-lower')?.prepend(this.checker);
    this.renderControls();
  }

  private renderChecker(run: RunView | null): void {
    const event = run?.events.find((e): e is TimelineEventOf<'history-check'> => e.kind === 'history-check');
    if (!event) {
      this.checker.dataset.state = 'none';
      this.checker.replaceChildren();
      return;
    }
    const { sound, summary, first, history } = event.data;
    this.checker.dataset.state = sound ? 'sound' : 'broken';
    const bySeq = new Map(history.operations.map((op) => [op.seq, op]));
    this.checker.replaceChildren(
      h('div', { className: 'lp-label' }, h('span', { text: 'history checker' }), h('span', { className: 'lp-hint', text: `${history.operations.length} operations, in Redis' order` })),
      h('div', { className: sound ? 'lp-good' : 'lp-bad', attrs: { 'data-role': 'checker-verdict' }, text: sound ? `✓ ${summary}` : `✗ ${first?.message ?? summary}` }),
      ...(first
        ? [
            h(
              'ol',
              { className: 'lp-checker-trail', attrs: { 'aria-label': 'the operations that led to it', 'data-role': 'checker-trail' } },
              // The last steps, ending with the one that broke it; the whole history is in the run's record.
              ...first.trail.slice(-4).map((seq) => {
                const op = bySeq.get(seq);
                return h('li', { className: seq === first.seq ? 'lp-bad' : '', text: op ? formatOperation(op) : `#${seq}` });
              }),
            ),
          ]
        : []),
    );
  }

  protected renderControls(): void {
    this.renderRunButton(this.talkButton, [this.run]);
    this.renderRunButton(this.fencedButton, [this.run]);
  }
}
