/**
 * What the four run panels (Act 1, the Journey, Defense in Depth, the edge-case
 * test) share around their own content: the frame, the page's run feed, the
 * error line, and the rules of a run button (disabled until the runs can be
 * followed and while its run is under way; a refusal shown in words).
 */
import type { AnyFaultName, RuntimeName, ScenarioName } from '../server/protocol.ts';
import type { Connection } from './connection.ts';
import { PanelFrame, type FrameOptions } from './frame.ts';
import type { PanelContext, PanelController, PanelOptions } from './panel.ts';
import { errorLine } from './runControls.ts';
import { describeFailure, subscribeRuns, type RunFeed, type RunView } from './runs.ts';

export interface RunPanelLook extends FrameOptions {
  /** Classes added to the panel's root besides `lp-runs`. */
  classes?: readonly string[];
}

/** One run a click starts; `label` names it in the error line ("Attempt 2: ..."). */
export interface RunRequest {
  scenario: ScenarioName;
  fault?: AnyFaultName;
  /** BullMQ unless it says celery. */
  runtime?: RuntimeName;
  label?: string;
}

/** A run that holds its button: waiting in the stage's queue, or playing. */
export function underWay(run: RunView | null | undefined): boolean {
  return run?.phase === 'queued' || run?.phase === 'running';
}

export abstract class RunPanel implements PanelController {
  protected readonly connection: Connection;
  protected frame: PanelFrame | null = null;
  protected feed: RunFeed | null = null;
  protected readonly unsubscribers: (() => void)[] = [];
  protected readonly error = errorLine();
  /** The clicks the server has not answered yet, by what they start. */
  protected readonly pending = new Set<string>();

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

  render(): void {
    this.frame = new PanelFrame(this.context.element, this.connection, { title: this.look.title, subtitle: this.look.subtitle });
    this.frame.root.classList.add('lp-runs', ...(this.look.classes ?? []));
    this.frame.body.append(...this.content());
    this.frame.render();
    const runs = subscribeRuns(this.connection, () => this.renderRuns());
    this.feed = runs.feed;
    this.unsubscribers.push(runs.unsubscribe, this.connection.onState(() => this.renderControls()));
    this.renderRuns();
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

  /**
   * Asks the server for `runs`, in order (the server plays queued runs one after
   * another), stopping at the first refusal; `key`'s button stays disabled until
   * the server answers, then the error line shows the refusal or clears.
   */
  protected async startRuns(key: string, runs: readonly RunRequest[]): Promise<void> {
    const feed = this.feed;
    if (!feed) return;
    this.pending.add(key);
    this.renderControls();
    let failure = '';
    for (const run of runs) {
      const result = await feed.start(run.scenario, run.fault, run.runtime);
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
