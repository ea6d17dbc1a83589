/**
 * Which `data-panel` name makes which panel. Adding a panel is its file in
 * panels/ plus one line here; a name not listed is left alone (its placeholder
 * stays empty and the slide's layout gives its room back to the content).
 */
import type { PanelFactory } from './panel.ts';
import { LuaReleasePanel } from './panels/luaReleasePanel.ts';

export const PANELS: Readonly<Record<string, PanelFactory>> = {
  'lua-release': (context) => new LuaReleasePanel(context),
};
