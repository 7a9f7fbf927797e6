import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isValidBranchName } from '../../core/branch-name.js';

function gitAccepts(name: string): boolean {
  try {
    return execFileSync('git', ['check-ref-format', '--branch', name], { stdio: 'pipe' }).toString().trim() === name;
  } catch {
    return false;
  }
}

const NAMES = [
  'main', 'feature/x', 'ao/s-1/root', 'pr/12/fix-it', 'a.b', 'v1.2.3', 'x_y-z', 'ünïcode', 'a@b', 'a{b}', 'a#b', 'a+b', "it's",
  '', ' ', 'a b', 'a~b', 'a^b', 'a:b', 'a?b', 'a*b', 'a[b', 'a\\b', 'a\tb', 'a\u007fb', 'a..b', 'a/.b', '.a', 'a/', '/a', 'a//b',
  'a.lock', 'a/b.lock/c', 'a.', 'a@{1}', '@{-1}', 'HEAD', '@', '-a', 'a/-b', 'a.lock.b', 'refs/heads/x', 'a/.lock',
];

describe('isValidBranchName', () => {
  it('agrees with git check-ref-format --branch on every name (refusing what git would expand)', () => {
    const disagreements = NAMES.filter((name) => {
      const expected = gitAccepts(name) && name !== '@' && !name.startsWith('@{') && !name.startsWith('-');
      return isValidBranchName(name) !== expected;
    });
    expect(disagreements).toEqual([]);
  });
});
