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
  /** For a claim no run here tests: what Celery's source says (in a word, then in full), and where. */
  reading?: { word: string; verdict: string; source: string };
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
      word: 'Half true',
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

/** A claim's verdict, from what was measured: in how many of its ways Celery ran a callback more than once. */
interface Verdict {
  kind: 'yes' | 'partly' | 'no' | 'reading' | 'unmeasured';
  mark: string;
  word: string;
  detail: string;
}

function verdictOf(claim: Claim): Verdict {
  if (claim.reading) return { kind: 'reading', mark: '◐', word: claim.reading.word, detail: 'read from the source' };
  const tallies = claim.faults.map((fault) => MEASURED.faults[fault]);
  if (tallies.some((tally) => !tally)) return { kind: 'unmeasured', mark: '?', word: 'Not measured yet', detail: '' };
  const doubled = claim.faults.filter((fault) => {
    const { link, linkError } = CELERY_FAULTS[fault].expected;
    return link + linkError > 1 && (MEASURED.faults[fault]?.reproduced ?? 0) > 0;
  }).length;
  const ways = claim.faults.length;
  const runs = Math.max(...tallies.map((tally) => tally?.runs ?? 0));
  const detail = `a callback ran twice in ${doubled} of ${ways} ${ways === 1 ? 'way' : 'ways'} · ${runs} runs each`;
  if (doubled === ways) return { kind: 'yes', mark: '✓', word: 'Yes', detail };
  return doubled > 0 ? { kind: 'partly', mark: '◐', word: 'Partly', detail } : { kind: 'no', mark: '✗', word: 'Not here', detail };
}

interface Row {
  fault: CeleryFaultName;
  button: HTMLButtonElement;
  live: HTMLElement;
  element: HTMLElement;
}

/**
 * Sized for a projector: one large verdict per claim; a claim's ways, with their counts,
 * mechanisms and source lines and a ▶ each, one press away (and back).
 */
export class CeleryClaimsPanel extends RunPanel {
  private run: RunView | null = null;
  private readonly rows: Row[] = [];
  private readonly overview: HTMLElement;
  private readonly detail: HTMLElement;
  private readonly detailHead = h('div', { className: 'lp-claim-head' });
  private readonly groups: HTMLElement[] = [];
  private readonly details = new RunDetails('Press ▶ on a row: one eval on real celery workers, link and link_error both attached, under that row’s fault.');

  constructor(context: PanelContext) {
    super(context, { title: 'Real Celery', subtitle: 'celery 5.2.6 · prefork · Redis', classes: ['lp-celery'] });
    const head = h('tr', {}, ...['What Celery did here', 'reproduced', 'Source', 'live'].map((text) => h('th', { text, attrs: { scope: 'col' } })));
    const table = h('table', { className: 'lp-claims', attrs: { 'data-role': 'claims' } }, h('thead', {}, head));
    const verdicts = h('ol', { className: 'lp-verdicts', attrs: { 'data-role': 'verdicts' } });
    CLAIMS.forEach((claim, index) => {
      const group = h('tbody', { attrs: { 'data-claim': String(index) } }, ...this.claimRows(claim));
      group.hidden = true;
      this.groups.push(group);
      table.append(group);
      verdicts.append(h('li', {}, this.verdictButton(claim, index)));
    });
    const back = actionButton('◂ All claims', () => this.showClaim(null), 'lp-button lp-button-small lp-claim-back');
    back.dataset.role = 'all-claims';
    this.overview = h('div', { className: 'lp-claims-overview' }, verdicts);
    this.detail = h('div', { className: 'lp-claim-detail', attrs: { 'data-role': 'claim-detail' } }, h('div', { className: 'lp-claim-bar' }, back, this.detailHead), table, this.details.element);
    this.detail.hidden = true;
  }

  private verdictButton(claim: Claim, index: number): HTMLButtonElement {
    const verdict = verdictOf(claim);
    const button = actionButton('', () => this.showClaim(index), 'lp-verdict');
    button.replaceChildren(
      h('span', { className: 'lp-verdict-mark', text: `${verdict.mark} ${verdict.word}` }),
      h('span', { className: 'lp-verdict-said', text: claim.said }),
      h('span', { className: 'lp-verdict-more', text: 'details ▸' }),
    );
    button.dataset.verdict = verdict.kind;
    button.dataset.role = 'verdict';
    button.title = verdict.detail;
    return button;
  }

  /** One claim's ways (null: the verdicts of all). */
  private showClaim(index: number | null): void {
    this.overview.hidden = index !== null;
    this.detail.hidden = index === null;
    this.groups.forEach((group, at) => (group.hidden = at !== index));
    const claim = index === null ? null : CLAIMS[index];
    if (!claim) return;
    const verdict = verdictOf(claim);
    this.detailHead.replaceChildren(
      h('span', { className: 'lp-verdict-mark', text: `${verdict.mark} ${verdict.word}`, attrs: { 'data-verdict': verdict.kind } }),
      h('strong', { className: 'lp-claim-said', text: claim.said }),
      h('span', { className: 'lp-muted', text: verdict.detail }),
    );
  }

  private claimRows(claim: Claim): HTMLElement[] {
    if (claim.reading) {
      return [
        h(
          'tr',
          { className: 'lp-claim lp-claim-reading' },
          h('td', { text: claim.reading.verdict }),
          h('td', { className: 'lp-claim-n', text: '—' }),
          h('td', { className: 'lp-claim-source', text: claim.reading.source }),
          h('td'),
        ),
      ];
    }
    return claim.faults.map((fault) => {
      const info = CELERY_FAULTS[fault];
      const tally = MEASURED.faults[fault];
      const button = actionButton('▶', () => void this.startRuns(fault, [{ scenario: SCENARIO, fault, runtime: 'celery' }]), 'lp-button lp-button-small');
      button.dataset.role = 'run-claim';
      button.title = `Run Act 1 on real Celery under “${info.label}”`;
      const live = h('span', { className: 'lp-claim-live', attrs: { 'data-role': 'live' } });
      const element = h(
        'tr',
        { className: 'lp-claim', attrs: { 'data-fault': fault } },
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
    this.overview.append(h('p', { className: 'lp-muted lp-claims-when', text: when }));
    return [this.overview, this.error.element, this.detail];
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
