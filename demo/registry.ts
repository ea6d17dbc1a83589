/**
 * Which `data-panel` name makes which panel. Adding a panel is its file in
 * panels/ plus one line here; a name not listed is left alone (its placeholder
 * stays empty and the slide's layout gives its room back to the content).
 *
 * Each entry loads its panel's code when asked (a chunk of its own): the first
 * slide must not wait for the demos of the last one. index.ts asks when the
 * panel's slide comes near.
 */
import type { PanelFactory } from './panel.ts';

export type PanelLoader = () => Promise<PanelFactory>;

export const PANELS: Readonly<Record<string, PanelLoader>> = {
  'lua-release': async () => {
    const { LuaReleasePanel } = await import('./panels/lua/luaReleasePanel.ts');
    return (context) => new LuaReleasePanel(context);
  },
  'innocent-pattern': async () => {
    const { InnocentPatternPanel } = await import('./panels/innocentPatternPanel.ts');
    return (context) => new InnocentPatternPanel(context);
  },
  journey: async () => {
    const { JourneyPanel } = await import('./panels/journeyPanel.ts');
    return (context) => new JourneyPanel(context);
  },
  defense: async () => {
    const { DefensePanel } = await import('./panels/defensePanel.ts');
    return (context) => new DefensePanel(context);
  },
  'late-duplicate': async () => {
    const { LateDuplicatePanel } = await import('./panels/lateDuplicatePanel.ts');
    return (context) => new LateDuplicatePanel(context);
  },
  'celery-claims': async () => {
    const { CeleryClaimsPanel } = await import('./panels/celeryClaimsPanel.ts');
    return (context) => new CeleryClaimsPanel(context);
  },
  'edge-case-test': async () => {
    const { EdgeCaseTestPanel } = await import('./panels/edgeCaseTestPanel.ts');
    return (context) => new EdgeCaseTestPanel(context);
  },
  join: async () => {
    const { JoinPanel } = await import('./panels/joinPanel.ts');
    return (context) => new JoinPanel(context);
  },
  'chaos-round': async () => {
    const { ChaosPanel } = await import('./panels/chaosPanel.ts');
    return (context) => new ChaosPanel(context);
  },
};
