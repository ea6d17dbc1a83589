/**
 * What the slide needs of the history checker's verdict on one variant: the
 * counts and the first violation with the operations that led to it, as plain
 * data (a CheckResult holds every violation's trail: far too much to send on).
 */
import type { CheckResult, Violation } from '../checker/checker.ts';
import { formatOperation } from '../../common/historyText.ts';
import type { HistoryOperation } from '../checker/history.ts';
import type { ChaosViolation } from '../protocol.ts';

export interface CheckSummary {
  operations: number;
  violations: number;
  first: ChaosViolation | null;
}

export function toChaosViolation(violation: Violation): ChaosViolation {
  return {
    rule: violation.rule,
    seq: violation.seq,
    executor: violation.executor,
    message: violation.message,
    trail: violation.trail.map((op: HistoryOperation) => ({
      seq: op.seq,
      text: formatOperation(op),
      op: op.op,
      callback: op.op === 'release' || op.op === 'callback' ? op.callback : null,
    })),
  };
}

export function summarizeCheck(result: CheckResult): CheckSummary {
  return { operations: result.operations, violations: result.violations.length, first: result.first ? toChaosViolation(result.first) : null };
}
