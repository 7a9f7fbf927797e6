import { expect, inject, it } from 'vitest';
import { touchServices } from './services.js';

it('fails on purpose: the run that holds it must exit non-zero', async () => {
  expect(await touchServices()).toEqual({ postgres: 1, redis: inject('aoTest').queueBackend === 'redis' ? 'PONG' : null });
  expect('this canary').toBe('deliberately failing');
});
