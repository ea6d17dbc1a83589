/**
 * The strip a replaying panel shows above its content: what it is ("Recording
 * of a real run, <date>", the versions in its title), and the controls: play or
 * pause, one step, 1x and 2x.
 */
import { actionButton, h } from '../dom.ts';
import './replay.css';
import type { ReplayPlayer, ReplaySpeed } from './player.ts';
import { recordingDate, recordingVersions } from './recordings.ts';
import type { RecordingIndex } from '../../server/protocol.ts';

export class ReplayBar {
  readonly element: HTMLElement;
  private readonly playButton = actionButton('Pause', () => this.togglePlay(), 'lp-button lp-button-small lp-replay-play');
  private readonly stepButton = actionButton('Step', () => this.player?.step(), 'lp-button lp-button-small');
  private readonly speedButtons: Record<ReplaySpeed, HTMLButtonElement> = {
    1: actionButton('1x', () => this.player?.setSpeed(1), 'lp-button lp-button-small'),
    2: actionButton('2x', () => this.player?.setSpeed(2), 'lp-button lp-button-small'),
  };
  private readonly label = h('span', { className: 'lp-replay-label', attrs: { 'data-role': 'replay-label' } });
  private player: ReplayPlayer | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor() {
    this.playButton.dataset.role = 'replay-play';
    this.stepButton.dataset.role = 'replay-step';
    this.stepButton.title = 'One step: the next thing that happened';
    this.speedButtons[1].dataset.role = 'replay-1x';
    this.speedButtons[2].dataset.role = 'replay-2x';
    this.speedButtons[1].title = 'Real time';
    this.speedButtons[2].title = 'Twice as fast';
    this.element = h(
      'div',
      { className: 'lp-replay', attrs: { 'data-role': 'replay', role: 'group', 'aria-label': 'Replay of a recording' } },
      this.label,
      h('span', { className: 'lp-replay-controls' }, this.playButton, this.stepButton, this.speedButtons[1], this.speedButtons[2]),
    );
  }

  /** Shows `player`'s recording, made on `recordedAt` with `versions`. */
  attach(player: ReplayPlayer, stamp: Pick<RecordingIndex, 'recordedAt' | 'versions'>): void {
    this.unsubscribe?.();
    this.player = player;
    this.label.textContent = `Recording of a real run, ${recordingDate(stamp.recordedAt)}`;
    this.label.title = `Replayed as it happened, from slides/recordings/ (${recordingVersions(stamp.versions)}). No server answers here, so nothing runs live.`;
    this.element.dataset.recordedAt = stamp.recordedAt;
    this.unsubscribe = player.onChange(() => this.render());
    this.render();
  }

  destroy(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.player = null;
    this.element.remove();
  }

  private togglePlay(): void {
    if (!this.player) return;
    if (this.player.playing) this.player.pause();
    else this.player.play();
  }

  private render(): void {
    const player = this.player;
    if (!player) return;
    this.element.dataset.state = player.playing ? 'playing' : player.ended ? 'ended' : 'paused';
    // Words, not media glyphs: a machine without an emoji font shows ⏸ and ⏭ as empty boxes.
    const playLabel = player.playing ? 'Pause' : player.ended ? 'Play again' : 'Play';
    this.playButton.textContent = player.playing ? 'Pause' : player.ended ? '↻ Again' : '▶ Play';
    this.playButton.title = playLabel;
    this.playButton.setAttribute('aria-label', playLabel);
    this.stepButton.disabled = player.ended;
    for (const speed of [1, 2] as const) this.speedButtons[speed].setAttribute('aria-pressed', String(player.speed === speed));
  }
}
