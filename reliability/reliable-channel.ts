/**
 * `npm run faults:reliable`: the reliable-channel faults of `npm run faults` (reliability/lib/reliable-faults.ts)
 * alone, with their sizes as options.
 *
 *   npm run faults:reliable                          # both scenarios, 100,000 messages each
 *   npm run faults:reliable -- --only partition --messages 20000 --max-unacked-kib 256
 */
import { parseArgs } from 'node:util';
import { runProgram } from './lib/child';
import { RELIABLE_FAULT_DEFAULTS as D, reliableHubKill, reliablePartition } from './lib/reliable-faults';
import { Checks } from './lib/report';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    messages: { type: 'string', default: String(D.messages) },
    'partition-s': { type: 'string', default: String(D.partitionMs / 1000) },
    'max-unacked-kib': { type: 'string', default: String(D.maxUnackedBytes / 1024) },
    'retransmit-ms': { type: 'string', default: String(D.retransmitMs) },
    baseline: { type: 'string', default: String(D.baseline) },
    'time-limit-s': { type: 'string', default: '600' },
  },
});
const options = {
  messages: Number(args.messages),
  partitionMs: Number(args['partition-s']) * 1000,
  maxUnackedBytes: Number(args['max-unacked-kib']) * 1024,
  retransmitMs: Number(args['retransmit-ms']),
  baseline: Number(args.baseline),
};

const SCENARIOS: Record<string, (checks: Checks) => Promise<void>> = {
  'hub-kill': (checks) => reliableHubKill(checks, options),
  partition: (checks) => reliablePartition(checks, options),
};

runProgram(
  async () => {
    const names = args.only === undefined ? Object.keys(SCENARIOS) : args.only.split(',');
    for (const name of names) if (SCENARIOS[name] === undefined) throw new Error(`unknown scenario ${name}`);
    const checks = new Checks();
    for (const name of names) await SCENARIOS[name]!(checks);
    return checks.passed;
  },
  Number(args['time-limit-s']) * 1000,
);
