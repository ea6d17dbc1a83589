/**
 * A run the audience starts plays the way the presenter set its panel up: under
 * the fault and on the framework (BullMQ or Celery) the presenter picked, with the
 * scenario's own release (unless the panel's own buttons are the releases, as on
 * the late-duplicate slide). A viewer's request may repeat those choices but not
 * change them. While no talk is live there is no presenter's setup to follow: a
 * reader alone on the site runs the fault and framework they picked.
 */
import type { ScenarioName, StartRunRequest } from '../protocol.ts';
import { ClientError } from '../errors.ts';
import { PANELS_WITH_RELEASE_BUTTONS, isRuntimePanel, panelOfScenario } from './audiencePanels.ts';
import type { HallDeck } from './deckState.ts';

const FRAMEWORK_NAMES = { bullmq: 'BullMQ', celery: 'Celery' } as const;

export function audienceRunRequest(deck: HallDeck, scenario: ScenarioName, request: StartRunRequest): StartRunRequest {
  const panel = panelOfScenario(scenario);
  if (request.release !== undefined && !PANELS_WITH_RELEASE_BUTTONS.has(panel)) {
    throw new ClientError('forbidden', 'only the presenter picks the release');
  }
  if (!deck.state.live) return request;
  const fault = deck.faultOf(panel);
  if (request.fault !== undefined && request.fault !== fault) {
    throw new ClientError('forbidden', `only the presenter picks the fault (now: ${fault ?? "the scenario's own"})`);
  }
  const runtime = deck.runtimeOf(panel);
  if (request.runtime !== undefined && request.runtime !== runtime) {
    throw new ClientError('forbidden', `only the presenter picks the framework (now: ${FRAMEWORK_NAMES[runtime]})`);
  }
  return {
    ...(fault ? { fault } : {}),
    ...(request.release ? { release: request.release } : {}),
    // The presenter's framework, whatever the client said (it could only repeat it).
    ...(isRuntimePanel(panel) ? { runtime } : {}),
  };
}
