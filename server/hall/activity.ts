/**
 * What the audience is doing with each panel, counted cheaply: taps per second
 * for the last minute (the presenter console's "triggers in the last minute")
 * and the sessions that tapped in the last few seconds (the panel's "N firing").
 * Fixed-size per panel, whatever the size of the hall.
 */
import type { AudiencePanel, FiringCounts } from '../protocol.ts';

const MINUTE_SLOTS = 60;
/** A viewer counts as firing for this long after a tap. */
export const FIRING_WINDOW_MS = 5000;
/** At most this many sessions are remembered per panel (a bigger hall still reads "500+"). */
const MAX_TRACKED = 500;

interface PanelActivity {
  /** Taps per second, a ring indexed by epoch second. */
  slots: Int32Array;
  slotSeconds: Float64Array;
  /** Session → last tap (ms), oldest first. */
  firing: Map<string, number>;
}

export class Activity {
  private readonly panels = new Map<AudiencePanel, PanelActivity>();

  constructor(private readonly now: () => number = Date.now) {}

  record(panel: AudiencePanel, session: string): void {
    const activity = this.of(panel);
    const now = this.now();
    const second = Math.floor(now / 1000);
    const slot = second % MINUTE_SLOTS;
    if (activity.slotSeconds[slot] !== second) {
      activity.slotSeconds[slot] = second;
      activity.slots[slot] = 0;
    }
    activity.slots[slot] = (activity.slots[slot] ?? 0) + 1;
    activity.firing.delete(session);
    activity.firing.set(session, now);
    if (activity.firing.size > MAX_TRACKED) activity.firing.delete(activity.firing.keys().next().value as string);
  }

  triggersLastMinute(): Partial<Record<AudiencePanel, number>> {
    const second = Math.floor(this.now() / 1000);
    const counts: Partial<Record<AudiencePanel, number>> = {};
    for (const [panel, activity] of this.panels) {
      let total = 0;
      for (let slot = 0; slot < MINUTE_SLOTS; slot++) {
        if (second - (activity.slotSeconds[slot] ?? 0) < MINUTE_SLOTS) total += activity.slots[slot] ?? 0;
      }
      counts[panel] = total;
    }
    return counts;
  }

  /** Sessions that tapped each panel within the window; forgets older ones. */
  firing(): FiringCounts {
    const since = this.now() - FIRING_WINDOW_MS;
    const counts: FiringCounts = {};
    for (const [panel, activity] of this.panels) {
      for (const [session, at] of activity.firing) {
        if (at >= since) break;
        activity.firing.delete(session);
      }
      counts[panel] = activity.firing.size;
    }
    return counts;
  }

  clear(): void {
    this.panels.clear();
  }

  private of(panel: AudiencePanel): PanelActivity {
    let activity = this.panels.get(panel);
    if (!activity) {
      activity = { slots: new Int32Array(MINUTE_SLOTS), slotSeconds: new Float64Array(MINUTE_SLOTS), firing: new Map() };
      this.panels.set(panel, activity);
    }
    return activity;
  }
}
