/**
 * "Does Celery really do that?": each of the talk's claims about Celery beside
 * what real Celery (Debian's 5.2.6) did on this machine: how often the mechanism
 * reproduced (`npm run celery:reproduce -- --write` measured it, five runs each;
 * the file says when), what Celery does, and the source line where it does it.
 *
 * Each runnable row plays Act 1 (`innocent-pattern`) live on real `celery worker`
 * processes under that row's fault (run:start with runtime celery); the row shows
 * the callbacks the latest such run released, and the run itself is drawn below,
 * lanes, replies, verdict and mechanism, as on Act 1's slide.
 */
import type { CeleryFaultName } from '../../server/protocol.ts';
import { CELERY_FAULTS } from '../../common/celeryFaults.ts';
import measured from '../celeryReproduced.json';
import { actionButton, h } from '../dom.ts';
import type { PanelContext } from '../panel.ts';
import { RunPanel, underWay, type ReplayPlan } from '../runPanel.ts';
import type { RunView } from '../runs.ts';
import { RunDetails } from '../runView.ts';
import '../runs.css';
import '../celeryClaims.css';

const SCENARIO = 'innocent-pattern';

interface Claim {
  /** What the talk says. */
  said: string;
  /** The faults that test it here, in the order shown. */
  faults: readonly CeleryFaultName[];
  /** For a claim no run here tests: what Celery's source says, and where. */
  reading?: { verdict: string; source: string };
}

const CLAIMS: readonly Claim[] = [
  { said: 'Celery can run BOTH link and link_error of one task', faults: ['on-success-raises', 'result-unstorable', 'result-too-large', 'child-killed'] },
  { said: 'Worker crashes during state transitions', faults: ['worker-killed', 'child-killed-reject', 'worker-killed-stored'] },
  { said: '(fix) worker_deduplicate_successful_tasks', faults: ['worker-killed-stored-dedup', 'worker-killed-dedup'] },
  { said: 'link_error twice (not in the talk)', faults: ['time-limit', 'time-limit-on-success'] },
  { said: 'A task that outlives the visibility timeout', faults: ['visibility-timeout'] },
  {
    said: 'link_error: called directly by worker',
    faults: [],
    reading: {
      verdict: 'Half true: only an errback taking (request, exc, traceback) is called directly (in the pool child, or the main process after a crash); a one-argument errback is queued as a task. Ours is called directly: see the child-killed run.',
      source: 'celery/backends/base.py:243 (direct), :264 (queued)',
    },
  },
  // The bug's shape, then the two shapes that differ from it in one respect each: a duplicated chain step (link), not both callbacks.
  { said: 'Bug #6737: duplicate callbacks with protocol v1', faults: ['chain-frozen-v1', 'chain-frozen-v2', 'link-v1'] },
  // The result backend's pubsub serves only a client waiting on .get(): these runs wait, and count the callbacks.
  { said: 'Redis pubsub race conditions', faults: ['result-get', 'result-get-fails'] },
];

interface Measured {
  measuredAt: string | null;
  faults: Partial<Record<CeleryFaultName, { reproduced: number; runs: number }>>;
}

const MEASURED = measured as Measured;

interface Row {
  fault: CeleryFaultName;
  button: HTMLButtonElement;
  live: HTMLElement;
  element: HTMLElement;
}

export class CeleryClaimsPanel extends RunPanel {
  private run: RunView | null = null;
  private readonly rows: Row[] = [];
  private readonly table: HTMLElement;
  private readonly details = new RunDetails('Press ▶ on a row: one eval on real celery workers, link and link_error both attached, under that row’s fault.');

  constructor(context: PanelContext) {
    super(context, { title: 'Real Celery', subtitle: 'celery 5.2.6 · prefork · Redis', classes: ['lp-celery'] });
    const head = h(
      'tr',
      {},
      ...['The talk says', 'What Celery did here', 'reproduced', 'Source', 'live'].map((text) => h('th', { text, attrs: { scope: 'col' } })),
    );
    const body = h('tbody');
    for (const claim of CLAIMS) body.append(...this.claimRows(claim));
    this.table = h('table', { className: 'lp-claims', attrs: { 'data-role': 'claims' } }, h('thead', {}, head), body);
  }

  private claimRows(claim: Claim): HTMLElement[] {
    const span = Math.max(1, claim.faults.length);
    const said = h('th', { className: 'lp-claim-said', text: claim.said, attrs: { scope: 'rowgroup', rowspan: String(span) } });
    if (claim.reading) {
      return [
        h(
          'tr',
          { className: 'lp-claim lp-claim-reading' },
          said,
          h('td', { text: claim.reading.verdict }),
          h('td', { className: 'lp-claim-n', text: '—' }),
          h('td', { className: 'lp-claim-source', text: claim.reading.source }),
          h('td'),
        ),
      ];
    }
    return claim.faults.map((fault, index) => {
      const info = CELERY_FAULTS[fault];
      const tally = MEASURED.faults[fault];
      const button = actionButton('▶', () => void this.startRuns(fault, [{ scenario: SCENARIO, fault, runtime: 'celery' }]), 'lp-button lp-button-small');
      button.dataset.role = 'run-claim';
      button.title = `Run Act 1 on real Celery under “${info.label}”`;
      const live = h('span', { className: 'lp-claim-live', attrs: { 'data-role': 'live' } });
      const element = h(
        'tr',
        { className: 'lp-claim', attrs: { 'data-fault': fault } },
        index === 0 ? said : null,
        h('td', {}, h('strong', { text: `${info.label}: ` }), info.mechanism),
        h(
          'td',
          { className: 'lp-claim-n', text: tally ? `${tally.reproduced}/${tally.runs}` : 'not measured', attrs: { 'data-role': 'reproduced' } },
          tally && info.counts ? h('span', { className: 'lp-claim-counts', text: info.counts }) : null,
        ),
        h('td', { className: 'lp-claim-source', text: info.source }),
        h('td', { className: 'lp-claim-run' }, button, live),
      );
      this.rows.push({ fault, button, live, element });
      return element;
    });
  }

  /** Where no server answers: the recorded Celery runs of the rows (`npm run record -- --celery`), one after another. */
  protected replayPlan(): ReplayPlan {
    return { runs: this.rows.map((row) => ({ scenario: SCENARIO, fault: row.fault, runtime: 'celery' as const })), sequential: true };
  }

  protected content(): HTMLElement[] {
    const when = MEASURED.measuredAt ? `measured ${MEASURED.measuredAt.slice(0, 10)}, 5 runs each, callbacks counted from Redis` : 'not measured yet';
    return [h('div', { className: 'lp-claims-box' }, this.table), h('p', { className: 'lp-muted lp-claims-when', text: when }), this.error.element, this.details.element];
  }

  override update(): void {
    super.update();
    this.details.refresh();
  }

  protected renderRuns(): void {
    const latest = this.feed?.latest(SCENARIO) ?? null;
    // Act 1 runs on BullMQ too: this slide shows only the Celery ones.
    this.run = latest?.summary?.runtime === 'celery' ? latest : this.run && latest?.id === this.run.id ? latest : this.run;
    this.details.update(this.run);
    for (const row of this.rows) {
      const mine = this.run?.summary?.fault === row.fault ? this.run : null;
      row.element.dataset.live = mine ? mine.phase : 'none';
      row.live.textContent = mine ? liveWords(mine) : '';
    }
    this.renderControls();
  }

  protected renderControls(): void {
    for (const row of this.rows) this.renderRunButton(row.button, [this.run]);
    // One run at a time on the stage: every row waits while one plays.
    if (underWay(this.run)) for (const row of this.rows) row.button.disabled = true;
  }
}

/** "link + link_error" once a run is over, else its phase. */
function liveWords(run: RunView): string {
  if (run.phase !== 'finished') return run.phase === 'failed' ? 'failed' : `${run.phase}…`;
  const ran = run.events.flatMap((event) => (event.kind === 'release-reply' ? [event.data.callback] : []));
  return ran.length ? ran.join(' + ') : 'no callback';
}
