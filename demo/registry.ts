/**
 * Which `data-panel` name makes which panel. Adding a panel is its file in
 * panels/ plus one line here; a name not listed is left alone (its placeholder
 * stays empty and the slide's layout gives its room back to the content).
 */
import type { PanelFactory } from './panel.ts';
import { DefensePanel } from './panels/defensePanel.ts';
import { EdgeCaseTestPanel } from './panels/edgeCaseTestPanel.ts';
import { InnocentPatternPanel } from './panels/innocentPatternPanel.ts';
import { JourneyPanel } from './panels/journeyPanel.ts';
import { LuaReleasePanel } from './panels/luaReleasePanel.ts';

export const PANELS: Readonly<Record<string, PanelFactory>> = {
  'lua-release': (context) => new LuaReleasePanel(context),
  'innocent-pattern': (context) => new InnocentPatternPanel(context),
  journey: (context) => new JourneyPanel(context),
  defense: (context) => new DefensePanel(context),
  'edge-case-test': (context) => new EdgeCaseTestPanel(context),
};
