/**
 * What the four run panels (Act 1, the Journey, Defense in Depth, the edge-case
 * test) share around their own content: the frame, the page's run feed, the
 * error line, and the rules of a run button (disabled until the runs can be
 * followed and while its run is under way; a refusal shown in words).
 */
import type { AnyFaultName, ReleaseKind, RuntimeName, ScenarioName } from '../server/protocol.ts';
import type { Connection } from './connection.ts';
import { PanelFrame, type FrameOptions } from './frame.ts';
import type { PanelContext, PanelController, PanelOptions } from './panel.ts';
import { errorLine } from './runControls.ts';
import { RecordedRuns, type RunSource } from './replay/recordedRuns.ts';
import { loadRunRecording } from './replay/recordings.ts';
import { ReplayBar } from './replay/replayBar.ts';
import { describeFailure, subscribeRuns, type RunFeed, type RunView } from './runs.ts';

export interface RunPanelLook extends FrameOptions {
  /** The subtitle while a recording is replayed, when the live one would say "live". */
  replaySubtitle?: string;
  /** Classes added to the panel's root besides `lp-runs`. */
  classes?: readonly string[];
}

/** One run a click starts; `label` names it in the error line ("Attempt 2: ..."). */
export interface RunRequest {
  scenario: ScenarioName;
  fault?: AnyFaultName;
  /** BullMQ unless it says celery. */
  runtime?: RuntimeName;
  release?: ReleaseKind;
  label?: string;
}

/** A run that holds its button: waiting in the stage's queue, or playing. */
export function underWay(run: RunView | null | undefined): boolean {
  return run?.phase === 'queued' || run?.phase === 'running';
}

/** What a panel replays where no server answers: these runs, one after another or side by side. */
export interface ReplayPlan {
  /** `runtime` absent: BullMQ's recordings. */
  runs: readonly { scenario: ScenarioName; fault?: AnyFaultName; runtime?: RuntimeName }[];
  sequential: boolean;
}

export abstract class RunPanel implements PanelController {
  protected readonly connection: Connection;
  protected frame: PanelFrame | null = null;
  /** Where the panel reads its runs: the live feed, or a replay of the recordings. */
  protected feed: RunSource | null = null;
  /** The replay, while one is shown. */
  protected replay: RecordedRuns | null = null;
  protected readonly unsubscribers: (() => void)[] = [];
  protected readonly error = errorLine();
  /** The clicks the server has not answered yet, by what they start. */
  protected readonly pending = new Set<string>();
  private live: { feed: RunFeed; unsubscribe(): void } | null = null;
  private readonly replayBar = new ReplayBar();
  private replayUnsubscribe: (() => void) | null = null;
  /** Bumped by every switch of source: a replay that finishes loading late is dropped. */
  private generation = 0;
  private replayStarted = false;

  constructor(
    protected readonly context: PanelContext,
    private readonly look: RunPanelLook,
  ) {
    this.connection = context.connection();
  }

  /** The panel's own elements, under the frame's header. */
  protected abstract content(): HTMLElement[];
  /** Shows the feed's latest runs: called on every change of the feed. */
  protected abstract renderRuns(): void;
  /** Enables or disables the buttons: called on every change of the connection too. */
  protected abstract renderControls(): void;
  /** The recorded runs this panel replays where no server answers. */
  protected abstract replayPlan(): ReplayPlan;

  render(): void {
    this.frame = new PanelFrame(this.context.element, this.connection, { title: this.look.title, subtitle: this.look.subtitle });
    this.frame.root.classList.add('lp-runs', ...(this.look.classes ?? []));
    this.replayBar.element.hidden = true;
    this.frame.body.append(this.replayBar.element, ...this.content());
    this.frame.render();
    this.unsubscribers.push(
      this.connection.onState(() => this.renderControls()),
      this.context.backend().onChange((source) => {
        if (source === 'live') this.goLive();
        else if (source === 'replay') void this.startReplay();
      }),
    );
    this.renderRuns();
  }

  configure(_options: PanelOptions): void {}

  update(): void {
    this.frame?.update();
    this.renderControls();
    // A replay starts playing when its slide is first on screen, not while the reader is slides away.
    if (this.replay && !this.replayStarted && this.context.mode === 'live' && this.context.isVisible()) {
      this.replayStarted = true;
      this.replay.player.play();
    }
  }

  destroy(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    this.stopReplay();
    this.live?.unsubscribe();
    this.live = null;
    this.feed = null;
    this.replayBar.destroy();
    this.frame?.destroy();
    this.frame = null;
  }

  /** Plays the recordings again from the start (say the viewer picked another fault); live, nothing. */
  protected replayAgain(): void {
    if (this.replay) void this.startReplay();
  }

  private goLive(): void {
    this.generation++;
    this.stopReplay();
    this.live ??= subscribeRuns(this.connection, () => this.renderRuns());
    // Printed with a server: a scenario it has no run of yet shows its recording's last frame.
    this.feed = this.context.mode === 'print' ? new FallbackRuns(this.live.feed, null) : this.live.feed;
    if (this.context.mode === 'print') void this.loadFallback(this.generation);
    this.renderRuns();
    this.renderControls();
  }

  private async loadFallback(generation: number): Promise<void> {
    const recorded = await this.loadRecordings();
    if (generation !== this.generation || !recorded || !this.live) return;
    recorded.player.toEnd();
    this.feed = new FallbackRuns(this.live.feed, recorded);
    this.renderRuns();
  }

  private async startReplay(): Promise<void> {
    const generation = ++this.generation;
    const recorded = await this.loadRecordings();
    if (generation !== this.generation || !this.frame) return;
    this.stopReplay();
    if (!recorded) {
      this.error.show('No server answers here, and this panel has no recording to replay.');
      return;
    }
    this.replay = recorded;
    this.feed = recorded;
    this.frame.setReplaying(true);
    if (this.look.replaySubtitle) this.frame.configure({ title: this.look.title, subtitle: this.look.replaySubtitle });
    this.replayBar.element.hidden = false;
    this.replayBar.attach(recorded.player, recorded.stamp);
    this.replayUnsubscribe = recorded.player.onChange(() => this.renderRuns());
    if (this.context.mode === 'print') {
      recorded.player.toEnd();
    } else if (this.replayStarted || this.context.isVisible()) {
      this.replayStarted = true;
      recorded.player.play();
    }
    this.renderRuns();
    this.renderControls();
  }

  private async loadRecordings(): Promise<RecordedRuns | null> {
    const plan = this.replayPlan();
    try {
      const recordings = (await Promise.all(plan.runs.map((run) => loadRunRecording(run.scenario, run.fault, run.runtime)))).filter((r) => r !== null);
      return recordings.length > 0 ? new RecordedRuns(recordings, { sequential: plan.sequential }) : null;
    } catch (error) {
      console.error('a recording could not be loaded', error);
      return null;
    }
  }

  private stopReplay(): void {
    this.replayUnsubscribe?.();
    this.replayUnsubscribe = null;
    this.replay?.destroy();
    this.replay = null;
    this.replayBar.element.hidden = true;
    this.frame?.setReplaying(false);
    this.frame?.configure({ title: this.look.title, subtitle: this.look.subtitle });
  }

  /**
   * Asks the server for `runs`, in order (the server plays queued runs one after
   * another), stopping at the first refusal; `key`'s button stays disabled until
   * the server answers, then the error line shows the refusal or clears.
   */
  protected async startRuns(key: string, runs: readonly RunRequest[]): Promise<void> {
    const feed = this.live?.feed;
    if (!feed || this.feed !== feed) return;
    this.pending.add(key);
    this.renderControls();
    let failure = '';
    for (const run of runs) {
      const result = await feed.start(run.scenario, run.fault, run.runtime, run.release);
      if (!result.ok) {
        failure = run.label ? `${run.label}: ${describeFailure(result)}` : describeFailure(result);
        break;
      }
    }
    this.pending.delete(key);
    this.error.show(failure);
    this.renderControls();
  }

  /** A panel's one run button: pressable while the runs are followed and none of `runs` is under way. */
  protected renderRunButton(button: HTMLButtonElement, runs: readonly (RunView | null)[]): void {
    const busy = this.pending.size > 0 || runs.some(underWay);
    button.disabled = !this.feed?.watching || busy;
    button.setAttribute('aria-busy', String(busy));
    this.error.showFeedError(this.feed?.error ?? '');
  }
}

/** The live feed, and where it has no run of a scenario, the last frame of its recording. */
class FallbackRuns implements RunSource {
  constructor(
    private readonly live: RunFeed,
    private readonly recorded: RecordedRuns | null,
  ) {}

  get watching(): boolean {
    return this.live.watching;
  }

  get error(): string {
    return this.live.error;
  }

  latest(scenario: ScenarioName): RunView | null {
    return this.live.latest(scenario) ?? this.recorded?.latest(scenario) ?? null;
  }
}
