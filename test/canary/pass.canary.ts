import { expect, inject, it } from 'vitest';
import { touchServices } from './services.js';

it('passes, on the services the global setup provided', async () => {
  expect(await touchServices()).toEqual({ postgres: 1, redis: inject('aoTest').queueBackend === 'redis' ? 'PONG' : null });
});
