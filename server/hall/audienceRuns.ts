/**
 * A run the audience starts plays the way the presenter set its panel up: under
 * the fault the presenter picked, with the scenario's own release (unless the
 * panel's own buttons are the releases, as on the late-duplicate slide). A
 * viewer's request may repeat those choices but not change them.
 */
import type { ScenarioName, StartRunRequest } from '../protocol.ts';
import { ClientError } from '../errors.ts';
import { PANELS_WITH_RELEASE_BUTTONS, panelOfScenario } from './audiencePanels.ts';
import type { HallDeck } from './deckState.ts';

export function audienceRunRequest(deck: HallDeck, scenario: ScenarioName, request: StartRunRequest): StartRunRequest {
  const panel = panelOfScenario(scenario);
  if (request.release !== undefined && !PANELS_WITH_RELEASE_BUTTONS.has(panel)) {
    throw new ClientError('forbidden', 'only the presenter picks the release');
  }
  const fault = deck.faultOf(panel);
  if (request.fault !== undefined && request.fault !== fault) {
    throw new ClientError('forbidden', `only the presenter picks the fault (now: ${fault ?? "the scenario's own"})`);
  }
  // Which runtime plays it (BullMQ or Celery) is the panel's own choice, not a presenter's pick.
  return {
    ...(fault ? { fault } : {}),
    ...(request.release ? { release: request.release } : {}),
    ...(request.runtime ? { runtime: request.runtime } : {}),
  };
}
