/**
 * Which panel a viewer's action belongs to: the presenter opens panels, not
 * endpoints, so every action the audience may fire names the panel that fires it.
 */
import { RuntimePanel, type AnyFaultName, type AudiencePanel, type CeleryFaultName, type FaultName, type RuntimeName, type ScenarioName } from '../protocol.ts';

const PANEL_OF_SCENARIO: Readonly<Record<ScenarioName, AudiencePanel>> = {
  'innocent-pattern': 'innocent-pattern',
  'attempt-1': 'journey',
  'attempt-2': 'journey',
  'attempt-3': 'journey',
  'ttl-safety-net': 'defense',
  'atomic-allocation': 'defense',
  'edge-case-test': 'edge-case-test',
  'late-duplicate': 'late-duplicate',
};

/** The pool the Lua slide's buttons act on: the only pool viewers allocate from and release into. */
export const LUA_PANEL: AudiencePanel = 'lua-release';

export function panelOfScenario(scenario: ScenarioName): AudiencePanel {
  return PANEL_OF_SCENARIO[scenario];
}

/** Panels whose buttons are the release kinds themselves: a viewer's tap picks the release there. */
export const PANELS_WITH_RELEASE_BUTTONS: ReadonlySet<AudiencePanel> = new Set(['late-duplicate']);

/** The faults the run panels start with (the panels' own menus open on the same ones). */
export const DEFAULT_FAULTS: Partial<Record<AudiencePanel, FaultName>> = {
  'innocent-pattern': 'result-unstorable',
  journey: 'worker-killed',
};

/** The first fault of each switchable panel's Celery menu: where a switch to Celery lands. */
const DEFAULT_CELERY_FAULTS: Record<RuntimePanel, CeleryFaultName> = {
  'innocent-pattern': 'result-unstorable',
  journey: 'worker-killed',
};

export function isRuntimePanel(panel: AudiencePanel): panel is RuntimePanel {
  return (RuntimePanel.options as readonly string[]).includes(panel);
}

/** The fault a panel's menu opens on for a framework. */
export function defaultFault(panel: RuntimePanel, runtime: RuntimeName): AnyFaultName {
  return runtime === 'celery' ? DEFAULT_CELERY_FAULTS[panel] : DEFAULT_FAULTS[panel]!;
}
