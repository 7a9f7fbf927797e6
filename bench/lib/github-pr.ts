import type { FakePullRequest } from '../../test/fake-github/index.js';
import { reviewedPullRequest } from '../../test/fake-github/demo-seed.js';

/** The shape of every bench PR: 2 check contexts and 1 review thread with 1 comment (the README demo's #1). */
export function benchPullRequest(number: number): FakePullRequest {
  return reviewedPullRequest(number, `Bench change ${number}`);
}
