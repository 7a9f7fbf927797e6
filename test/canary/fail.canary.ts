import { expect, it } from 'vitest';
import { touchServices } from './services.js';

it('fails on purpose: the run that holds it must exit non-zero', async () => {
  expect(await touchServices()).toEqual({ postgres: 1, redis: 'PONG' });
  expect('this canary').toBe('deliberately failing');
});
