import { describe, expect, it } from 'vitest';
import { formatEntry } from '../../core/log.js';

describe('readable log lines (AO_LOG_FORMAT=pretty, the default on a terminal)', () => {
  it('says time, level, component and message, then the entry\'s own fields; pid, hostname and name are left out', () => {
    const line = JSON.stringify({ level: 40, time: Date.parse('2026-12-07T10:04:05.123Z'), pid: 7, hostname: 'h', name: 'start', component: 'worker', msg: 'claim worker error', error: 'connection reset', attempts: 2 });
    expect(formatEntry(line)).toBe('10:04:05  WARN   worker  claim worker error  error="connection reset"  attempts=2');
  });

  it('names the process when an entry has no component, and quotes only what needs it', () => {
    const line = JSON.stringify({ level: 30, time: Date.parse('2026-12-07T00:00:00Z'), name: 'api', msg: 'request', url: '/api/v1/jobs', statusCode: 200, body: { a: 1 } });
    expect(formatEntry(line)).toBe('00:00:00  INFO   api  request  url=/api/v1/jobs  statusCode=200  body={"a":1}');
  });

  it('passes a line that is not JSON through as it is', () => {
    expect(formatEntry('not json\n')).toBe('not json');
  });
});
