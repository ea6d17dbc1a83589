/**
 * "Chaos round": the hall against three releases. While a round the presenter
 * opened runs, every phone shows one big button; each tap (timed from press to
 * release) is one eval's life against three pools at once: the naive release,
 * the talk's Lua script and the fenced script. The panel shows what the server
 * sends once per tick (`chaos:changed`): taps and operations per second,
 * participants, and per release the operations and the violations the history
 * checker found, as a live chart; at the end, each release's first violation as
 * the operations that led to it, and the histories as a download.
 *
 * Without a server (the static build, a PDF) it replays a recording of a real
 * round driven by simulated phones, and says so.
 */
import type { ChaosRoundState, ChaosVariant, ChaosViolation } from '../../server/protocol.ts';
import type { Connection } from '../connection.ts';
import { h } from '../dom.ts';
import { PanelFrame } from '../frame.ts';
import type { PanelContext, PanelController, PanelOptions } from '../panel.ts';
import { formatRoundRecording, type ChaosRoundRecording } from './chaosRecording.ts';
import './chaos.css';

const VARIANTS: readonly ChaosVariant[] = ['naive', 'lua', 'fenced'];
const LABELS: Record<ChaosVariant, string> = { naive: 'naive push', lua: 'talk’s Lua', fenced: 'fenced' };
const TRAIL_LINES = 4;
const SVG = 'http://www.w3.org/2000/svg';

export class ChaosPanel implements PanelController {
  private readonly frame: PanelFrame;
  private connection: Connection | null = null;
  private readonly cleanups: (() => void)[] = [];
  private round: ChaosRoundState | null = null;
  private role: 'presenter' | 'viewer' = 'viewer';
  private pressedAt: number | null = null;
  private myTaps = 0;
  private replayTimer: ReturnType<typeof setTimeout> | null = null;
  private clockTimer: ReturnType<typeof setInterval> | null = null;

  private readonly seconds = h('input', { className: 'lp-chaos-seconds', attrs: { type: 'number', min: '3', max: '120', value: '20', 'aria-label': 'seconds', 'data-role': 'seconds' } });
  private readonly openButton = h('button', { className: 'lp-button', text: '▶ Open a round', attrs: { type: 'button', 'data-role': 'open-round' } });
  private readonly presenterBar = h('div', { className: 'lp-actions lp-chaos-presenter' }, this.openButton, this.seconds, h('span', { className: 'lp-hint', text: 's' }));
  private readonly tapButton = h('button', { className: 'lp-chaos-tap', text: 'TAP', attrs: { type: 'button', 'data-role': 'tap' } });
  private readonly tapHint = h('div', { className: 'lp-chaos-hint', attrs: { 'data-role': 'tap-hint', 'aria-live': 'polite' } });
  private readonly status = h('div', { className: 'lp-chaos-status', attrs: { 'data-role': 'round-status', 'aria-live': 'polite' } });
  private readonly figures = h('div', { className: 'lp-chaos-figures', attrs: { 'data-role': 'figures' } });
  private readonly scores = h('div', { className: 'lp-chaos-scores', attrs: { 'data-role': 'scores' } });
  private readonly chart = document.createElementNS(SVG, 'svg');
  private readonly summary = h('div', { className: 'lp-chaos-summary', attrs: { 'data-role': 'summary' } });
  private readonly label = h('div', { className: 'lp-chaos-label', attrs: { 'data-role': 'replay', 'data-state': 'none' } });

  constructor(private readonly context: PanelContext) {
    this.frame = new PanelFrame(context.element, context.connection(), { title: 'Chaos round', subtitle: 'the hall vs three releases, live from Redis' });
    this.chart.setAttribute('class', 'lp-chaos-chart');
    this.chart.setAttribute('viewBox', '0 0 300 90');
    this.chart.setAttribute('preserveAspectRatio', 'none');
    this.chart.setAttribute('role', 'img');
    this.chart.setAttribute('aria-label', 'violations per release over the round');
    this.chart.dataset.role = 'chart';
  }

  render(): void {
    this.frame.render();
    this.frame.body.replaceChildren(
      this.label,
      this.presenterBar,
      this.status,
      h('div', { className: 'lp-chaos-tap-row' }, this.tapButton, this.tapHint),
      this.figures,
      this.scores,
      this.chart,
      this.summary,
    );
    this.presenterBar.hidden = true;
    this.tapButton.hidden = true;
    this.openButton.addEventListener('click', () => void this.openRound());
    // Timed from press to release: the hold is the eval's work, and how its cleanup comes.
    const press = (event: Event) => {
      event.preventDefault();
      this.pressedAt = performance.now();
      this.tapButton.classList.add('lp-chaos-pressed');
    };
    const release = (event: Event) => {
      event.preventDefault();
      if (this.pressedAt === null) return;
      const hold = Math.round(performance.now() - this.pressedAt);
      this.pressedAt = null;
      this.tapButton.classList.remove('lp-chaos-pressed');
      void this.tap(hold);
    };
    this.tapButton.addEventListener('pointerdown', press);
    this.tapButton.addEventListener('pointerup', release);
    this.tapButton.addEventListener('pointercancel', () => (this.pressedAt = null));
    this.tapButton.addEventListener('keydown', (event) => {
      if ((event.key === ' ' || event.key === 'Enter') && !event.repeat) press(event);
    });
    this.tapButton.addEventListener('keyup', (event) => {
      if (event.key === ' ' || event.key === 'Enter') release(event);
    });
    this.renderRound();
  }

  configure(_options: PanelOptions): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    if (this.context.mode === 'print') {
      this.frame.setReplaying(true);
      void this.replay(true);
      return;
    }
    const backend = this.context.backend();
    this.cleanups.push(
      backend.onChange((source) => {
        this.frame.setReplaying(source === 'replay');
        if (source === 'replay') void this.replay(false);
        if (source === 'live') this.goLive();
      }),
    );
  }

  update(): void {
    this.frame.update();
  }

  destroy(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.stopReplay();
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.frame.destroy();
  }

  private goLive(): void {
    this.stopReplay();
    this.label.textContent = '';
    this.label.hidden = true;
    const connection = (this.connection = this.context.connection());
    this.cleanups.push(
      connection.on('chaos:changed', (round) => {
        this.round = round;
        this.renderRound();
      }),
      connection.onConnect(() => void this.watch()),
    );
    this.clockTimer ??= setInterval(() => {
      if (this.round?.status === 'open') this.renderStatus();
    }, 500);
  }

  private async watch(): Promise<void> {
    const reply = await this.connection!.request('chaos:watch', {});
    if (!reply.ok) return;
    this.role = reply.data.role;
    this.round = reply.data.round;
    this.renderRound();
  }

  private async openRound(): Promise<void> {
    const seconds = Math.min(120, Math.max(3, Number(this.seconds.value) || 20));
    this.openButton.disabled = true;
    try {
      const response = await fetch('api/chaos/rounds', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seconds }) });
      const body = (await response.json()) as { round?: ChaosRoundState; message?: string };
      if (!response.ok) this.tapHint.textContent = body.message ?? `could not open a round (${response.status})`;
      else if (body.round) this.round = body.round;
    } catch {
      this.tapHint.textContent = 'could not reach the server';
    } finally {
      this.openButton.disabled = false;
      this.renderRound();
    }
  }

  private async tap(hold: number): Promise<void> {
    const round = this.round;
    if (!round || round.status !== 'open' || !this.connection) return;
    const reply = await this.connection.request('chaos:tap', { roundId: round.id, hold });
    if (reply.ok) {
      this.myTaps++;
      const how = { once: 'cleanup once', double: 'cleanup twice', late: 'a late second cleanup' }[reply.data.delivery];
      this.tapHint.textContent = `your tap #${this.myTaps}: held ${hold} ms → ${how}`;
    } else {
      this.tapHint.textContent = reply.message;
    }
  }

  // ---- The recording (static build, PDF) ----

  private async replay(toTheEnd: boolean): Promise<void> {
    this.stopReplay();
    let recording: ChaosRoundRecording | null = null;
    try {
      recording = (await import('../../slides/recordings/chaos/round.json')).default as unknown as ChaosRoundRecording;
    } catch {
      recording = null;
    }
    if (!recording) {
      this.label.hidden = false;
      this.label.textContent = 'No server here, and no recording of a round: open the live site to play one.';
      this.label.dataset.state = 'ended';
      return;
    }
    this.label.hidden = false;
    this.label.textContent = formatRoundRecording(recording);
    this.frame.configure({ title: 'Chaos round', subtitle: 'a recorded round, real Redis' });
    const states = recording.states;
    if (toTheEnd || states.length === 0) {
      this.round = recording.final;
      this.renderRound();
      this.label.dataset.state = 'ended';
      return;
    }
    let index = 0;
    let series: ChaosRoundState['series'] = [];
    const step = () => {
      const state = states[index]!;
      // Each recorded state carries the chart's newest point only: the replay puts the chart back together.
      if (index === 0) series = [];
      for (const point of state.series) if (series.at(-1)?.t !== point.t) series.push(point);
      this.round = index === states.length - 1 ? recording.final : { ...state, series: [...series] };
      this.renderRound();
      index++;
      this.label.dataset.state = index < states.length ? 'playing' : 'ended';
      if (index < states.length) this.replayTimer = setTimeout(step, Math.max(50, states[index]!.at - state.at));
      else this.replayTimer = setTimeout(() => ((index = 0), step()), 8000);
    };
    step();
  }

  private stopReplay(): void {
    if (this.replayTimer) clearTimeout(this.replayTimer);
    this.replayTimer = null;
  }

  // ---- The view ----

  private renderRound(): void {
    const round = this.round;
    const live = this.connection !== null && this.label.hidden;
    this.presenterBar.hidden = !(live && this.role === 'presenter' && round?.status !== 'open' && round?.status !== 'settling');
    this.tapButton.hidden = !(live && round?.status === 'open' && Date.now() < round.closesAt);
    this.tapHint.hidden = this.tapButton.hidden && !this.tapHint.textContent;
    if (this.tapButton.hidden && live) this.tapHint.textContent = round?.status === 'open' || round?.status === 'settling' ? '' : this.tapHint.textContent;
    this.renderStatus();
    this.renderFigures(round);
    this.renderScores(round);
    this.renderChart(round);
    this.renderSummary(round);
  }

  private renderStatus(): void {
    const round = this.round;
    this.status.dataset.state = round?.status ?? 'none';
    if (!round) {
      this.status.textContent = 'No round yet: the presenter opens one, then every phone gets a button.';
    } else if (round.status === 'open') {
      // A replayed round counts down on its own clock (the time each state was sent).
      const now = this.label.hidden ? Date.now() : round.at;
      const left = Math.max(0, Math.ceil((round.closesAt - now) / 1000));
      this.status.textContent = left > 0 ? `Round open: ${left} s left. Tap! Hold longer for a double or a late cleanup.` : 'Round closing…';
      if (left === 0) this.tapButton.hidden = true;
    } else if (round.status === 'settling') {
      this.status.textContent = 'Round closed: the last evals finish, then the checker reads every history…';
    } else {
      this.status.textContent = `Round over: ${round.taps} taps from ${round.participants} ${round.participants === 1 ? 'person' : 'people'}.`;
    }
  }

  private renderFigures(round: ChaosRoundState | null): void {
    if (!round) return void this.figures.replaceChildren();
    const figure = (value: number | string, name: string, role: string) =>
      h('div', { className: 'lp-chaos-figure', attrs: { 'data-role': role } }, h('b', { text: String(value) }), h('span', { text: name }));
    const total = VARIANTS.reduce((sum, v) => sum + round.variants[v].operations, 0);
    this.figures.replaceChildren(
      figure(round.participants, 'participants', 'participants'),
      figure(round.taps, 'taps', 'taps'),
      round.status === 'done' ? figure(total, 'operations', 'operations') : figure(round.tapsPerSecond, 'taps/s', 'taps-per-second'),
      round.status === 'done' ? figure(round.seconds, 'seconds', 'seconds') : figure(round.operationsPerSecond, 'ops/s', 'ops-per-second'),
    );
  }

  private renderScores(round: ChaosRoundState | null): void {
    if (!round) return void this.scores.replaceChildren();
    this.scores.replaceChildren(
      ...VARIANTS.map((variant) => {
        const score = round.variants[variant];
        return h(
          'div',
          { className: `lp-chaos-score lp-chaos-${variant}`, attrs: { 'data-variant': variant, 'data-violations': String(score.violations) } },
          h('span', { className: 'lp-chaos-name', text: LABELS[variant] }),
          h('span', { className: 'lp-chaos-ops', text: `${score.operations} ops` }),
          h('span', { className: 'lp-chaos-vio', text: score.violations === 0 ? '✓ 0 violations' : `✗ ${score.violations} violation${score.violations === 1 ? '' : 's'}` }),
        );
      }),
    );
  }

  /** Violations per release over the round's seconds: one line each. */
  private renderChart(round: ChaosRoundState | null): void {
    const series = round?.series ?? [];
    this.chart.replaceChildren();
    // On paper the summary needs the room: the chart is for the live round.
    this.chart.style.display = series.length > 0 && this.context.mode !== 'print' ? '' : 'none';
    if (series.length === 0) return;
    const maxT = Math.max(round!.seconds, series.at(-1)!.t, 1);
    const maxV = Math.max(1, ...series.flatMap((point) => VARIANTS.map((v) => point.violations[v])));
    const x = (t: number) => 4 + (t / maxT) * 292;
    const y = (v: number) => 84 - (v / maxV) * 76;
    const axis = document.createElementNS(SVG, 'path');
    axis.setAttribute('d', 'M4 6 V84 H296');
    axis.setAttribute('class', 'lp-chaos-axis');
    this.chart.append(axis);
    for (const variant of VARIANTS) {
      const line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('points', [{ t: 0, v: 0 }, ...series.map((p) => ({ t: p.t, v: p.violations[variant] }))].map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' '));
      line.setAttribute('class', `lp-chaos-line lp-chaos-${variant}`);
      this.chart.append(line);
    }
    const top = document.createElementNS(SVG, 'text');
    top.setAttribute('x', '8');
    top.setAttribute('y', '14');
    top.setAttribute('class', 'lp-chaos-axis-label');
    top.textContent = `${maxV} violations`;
    this.chart.append(top);
  }

  private renderSummary(round: ChaosRoundState | null): void {
    if (!round || round.status !== 'done') return void this.summary.replaceChildren();
    const first = (variant: ChaosVariant, violation: ChaosViolation | null) =>
      h(
        'div',
        { className: `lp-chaos-first lp-chaos-${variant}`, attrs: { 'data-variant': variant } },
        h('div', { className: 'lp-chaos-name', text: `${LABELS[variant]}: ${violation ? `first broke at operation #${violation.seq} (${violation.rule})` : 'never broke'}` }),
        ...(violation
          ? [
              ...(this.context.mode === 'print' ? [] : [h('div', { className: 'lp-chaos-message', text: violation.message })]),
              h('ol', { className: 'lp-terminal lp-chaos-trail' }, ...violation.trail.slice(this.context.mode === 'print' ? -2 : -TRAIL_LINES).map((line) => h('li', { text: line.text, attrs: { 'data-callback': line.callback ?? '' } }))),
            ]
          : []),
      );
    const download = round.historyUrl && this.label.hidden
      ? h('a', { className: 'lp-button lp-chaos-download', text: '⬇ The round’s history (JSON)', attrs: { href: round.historyUrl.replace(/^\//, ''), download: `chaos-${round.id}.json`, 'data-role': 'history' } })
      : h('div', { className: 'lp-hint', text: 'Re-check a round’s history offline: npm run check -- chaos-<round>.json' });
    this.summary.replaceChildren(...VARIANTS.map((v) => first(v, round.variants[v].firstViolation)), download);
  }
}
