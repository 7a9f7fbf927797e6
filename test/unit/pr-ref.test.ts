import { describe, expect, it } from 'vitest';
import { AoError, type ErrorCode } from '../../core/errors.js';
import {
  canonicalPrUrl,
  normalizeRepoUrl,
  parsePrRef,
  parseRepoUrl,
  prIdentityKey,
  PR_REF_FORMS,
  resolvePrRef,
  type PrRef,
} from '../../core/pr-ref.js';

/** Runs `fn` and returns the AoError it throws; fails the test if it throws anything else or nothing. */
function aoErrorOf(fn: () => unknown): AoError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AoError);
    return err as AoError;
  }
  throw new Error('expected an AoError, nothing was thrown');
}

function expectCode(fn: () => unknown, code: ErrorCode): AoError {
  const err = aoErrorOf(fn);
  expect(err.code).toBe(code);
  return err;
}

const full = (owner: string, repo: string, number: number): PrRef => ({ kind: 'full', owner, repo, number });

describe('parsePrRef: accepted forms', () => {
  it.each<[string, PrRef]>([
    ['142', { kind: 'number', number: 142 }],
    ['#142', { kind: 'number', number: 142 }],
    ['  142\n', { kind: 'number', number: 142 }],
    ['\t#7 ', { kind: 'number', number: 7 }],
    ['007', { kind: 'number', number: 7 }],
    ['1', { kind: 'number', number: 1 }],
    ['2147483647', { kind: 'number', number: 2_147_483_647 }],
    ['owner/repo#142', full('owner', 'repo', 142)],
    ['Owner-1/my.repo_x-y#9', full('Owner-1', 'my.repo_x-y', 9)],
    ['owner/repo.git#3', full('owner', 'repo', 3)],
    ['  owner/repo#142  ', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142/', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142/files', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142/files/', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142/changes', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142/commits', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142/commits/0123abc', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142/commits/0123456789abcdef0123456789abcdef01234567', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142/checks', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo.git/pull/142', full('owner', 'repo', 142)],
    ['https://www.github.com/owner/repo/pull/142', full('owner', 'repo', 142)],
    ['HTTPS://WWW.GITHUB.COM/owner/repo/pull/142', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142?w=1', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142#issuecomment-1', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142/files#diff-abc', full('owner', 'repo', 142)],
    ['https://github.com/owner/repo/pull/142/?tab=x#y', full('owner', 'repo', 142)],
    ['  https://github.com/owner/repo/pull/142  ', full('owner', 'repo', 142)],
    // casing is kept as typed; identity is lower-cased separately (prIdentityKey)
    ['https://github.com/MyOrg/MyRepo/pull/5', full('MyOrg', 'MyRepo', 5)],
    ['https://github.com/a/b/pull/1', full('a', 'b', 1)],
    [`https://github.com/${'a'.repeat(39)}/${'r'.repeat(100)}/pull/1`, full('a'.repeat(39), 'r'.repeat(100), 1)],
    ['https://github.com/o/.github/pull/1', full('o', '.github', 1)],
    ['https://github.com/legacy-/repo/pull/1', full('legacy-', 'repo', 1)],
  ])('%j', (input, expected) => {
    expect(parsePrRef(input)).toEqual(expected);
  });
});

describe('parsePrRef: rejected forms', () => {
  it.each<[string, string]>([
    ['', 'empty'],
    ['   ', 'blank'],
    ['#', 'a bare #'],
    ['##142', 'two #'],
    ['# 142', 'space after #'],
    ['0', 'zero'],
    ['#0', 'zero after #'],
    ['000', 'zeros'],
    ['-5', 'negative'],
    ['#-5', 'negative after #'],
    ['+5', 'explicit sign'],
    ['5a', 'trailing letters'],
    ['5.0', 'decimal'],
    ['1e3', 'exponent'],
    ['0x10', 'hex'],
    ['1 2', 'inner space'],
    ['2147483648', 'beyond GraphQL Int'],
    ['99999999999999999999999', 'huge'],
    ['pr', 'a word'],
    ['owner/repo', 'repo without number'],
    ['owner/repo#', 'shorthand without number'],
    ['owner/repo#0', 'shorthand zero'],
    ['owner/repo#-1', 'shorthand negative'],
    ['owner/repo#5a', 'shorthand letters'],
    ['owner#5', 'owner only'],
    ['/repo#5', 'empty owner'],
    ['owner/#5', 'empty repo'],
    ['a/b/c#5', 'three segments'],
    ['-owner/repo#5', 'owner starting with a hyphen'],
    ['own_er/repo#5', 'underscore in owner'],
    ['own.er/repo#5', 'dot in owner'],
    [`${'a'.repeat(40)}/repo#5`, 'owner too long'],
    [`owner/${'r'.repeat(101)}#5`, 'repo too long'],
    ['owner/./#5', 'repo "."'],
    ['owner/..#5', 'repo ".."'],
    ['owner/.git#5', 'repo ".git" (empty after stripping)'],
    ['owner/re po#5', 'space in repo'],
    ['owner/re%70o#5', 'percent in repo'],
    ['http://github.com/owner/repo/pull/5', 'http'],
    ['github.com/owner/repo/pull/5', 'scheme-less'],
    ['www.github.com/owner/repo/pull/5', 'scheme-less www'],
    ['//github.com/owner/repo/pull/5', 'protocol-relative'],
    ['https:github.com/owner/repo/pull/5', 'no slashes after scheme'],
    ['https:///github.com/owner/repo/pull/5', 'three slashes'],
    ['https:\\\\github.com\\owner\\repo\\pull\\5', 'backslashes'],
    ['ftp://github.com/owner/repo/pull/5', 'other scheme'],
    ['git@github.com:owner/repo.git', 'an origin, not a PR'],
    ['https://gitlab.com/owner/repo/pull/5', 'other host'],
    ['https://api.github.com/repos/owner/repo/pulls/5', 'API host'],
    ['https://gist.github.com/owner/repo/pull/5', 'subdomain'],
    ['https://github.company.com/owner/repo/pull/5', 'GHE host'],
    ['https://github.com.evil.com/owner/repo/pull/5', 'look-alike host'],
    ['https://evilgithub.com/owner/repo/pull/5', 'suffix host'],
    ['https://github.com:443/owner/repo/pull/5', 'port'],
    ['https://user@github.com/owner/repo/pull/5', 'userinfo'],
    ['https://github.com/owner/repo/issues/5', 'issue'],
    ['https://github.com/owner/repo/pulls/5', 'pulls'],
    ['https://github.com/owner/repo/Pull/5', 'capitalised pull'],
    ['https://github.com/owner/repo/pull/', 'no number'],
    ['https://github.com/owner/repo/pull/0', 'URL zero'],
    ['https://github.com/owner/repo/pull/-1', 'URL negative'],
    ['https://github.com/owner/repo/pull/5a', 'URL number with letters'],
    ['https://github.com/owner/repo/pull/2147483648', 'URL number too big'],
    ['https://github.com/owner/repo/pull/5/conflicts', 'unknown tab'],
    ['https://github.com/owner/repo/pull/5/files/x', 'extra segment after tab'],
    ['https://github.com/owner/repo/pull/5/commits/xyz', 'commit that is not a sha'],
    ['https://github.com/owner/repo/pull/5//', 'double trailing slash'],
    ['https://github.com//owner/repo/pull/5', 'empty segment'],
    ['https://github.com/owner/pull/5', 'missing repo'],
    ['https://github.com/owner/repo', 'repo page'],
    ['https://github.com/', 'host only'],
    ['https://github.com', 'host only without slash'],
    ['https://github.com/owner/repo/pull/1\n2', 'newline inside (URL parsers delete it)'],
    ['https://github.com/owner/repo/pull/1\t2', 'tab inside'],
    ['https://github.com/own_er/repo/pull/5', 'URL with invalid owner'],
    ['https://github.com/owner/re$po/pull/5', 'URL with invalid repo'],
    ['https://github.com/owner/../pull/5', 'URL with repo ".."'],
  ])('%j (%s)', (input) => {
    const err = expectCode(() => parsePrRef(input), 'INVALID_PR_REF');
    expect(err.status).toBe(400);
    expect(err.details).toEqual({ ref: input });
    expect(err.message).toContain(PR_REF_FORMS);
  });

  it('names the reason in the message', () => {
    expect(aoErrorOf(() => parsePrRef('')).message).toMatch(/empty/);
    expect(aoErrorOf(() => parsePrRef('0')).message).toMatch(/from 1 to 2147483647/);
    expect(aoErrorOf(() => parsePrRef('https://gitlab.com/o/r/pull/1')).message).toMatch(/only https:\/\/github\.com/);
    expect(aoErrorOf(() => parsePrRef('github.com/o/r/pull/1')).message).toMatch(/must start with https:\/\//);
    expect(aoErrorOf(() => parsePrRef('https://github.com/o/r/issues/1')).message).toMatch(/not a pull request/);
    expect(aoErrorOf(() => parsePrRef('own_er/r#1')).message).toMatch(/"own_er" is not a valid GitHub owner/);
  });

  it('clips a huge input in the message but keeps it in details', () => {
    const input = 'x'.repeat(5000);
    const err = expectCode(() => parsePrRef(input), 'INVALID_PR_REF');
    expect(err.message.length).toBeLessThan(400);
    expect(err.details).toEqual({ ref: input });
  });
});

describe('parseRepoUrl', () => {
  it.each<[string, { owner: string; repo: string }]>([
    ['https://github.com/o/r', { owner: 'o', repo: 'r' }],
    ['https://github.com/o/r.git', { owner: 'o', repo: 'r' }],
    ['https://github.com/o/r/', { owner: 'o', repo: 'r' }],
    ['https://github.com/o/r.git/', { owner: 'o', repo: 'r' }],
    ['http://github.com/o/r', { owner: 'o', repo: 'r' }],
    ['HTTPS://GitHub.COM/Org/Repo.git', { owner: 'Org', repo: 'Repo' }],
    ['https://www.github.com/o/r.git', { owner: 'o', repo: 'r' }],
    ['https://x-access-token:ghs_secret@github.com/o/r.git', { owner: 'o', repo: 'r' }],
    ['https://github.com:443/o/r.git', { owner: 'o', repo: 'r' }],
    ['ssh://git@github.com/o/r.git', { owner: 'o', repo: 'r' }],
    ['ssh://git@github.com:22/o/r.git', { owner: 'o', repo: 'r' }],
    ['ssh://git@ssh.github.com:443/o/r.git', { owner: 'o', repo: 'r' }],
    ['git+ssh://git@github.com/o/r.git', { owner: 'o', repo: 'r' }],
    ['git://github.com/o/r.git', { owner: 'o', repo: 'r' }],
    ['git@github.com:o/r.git', { owner: 'o', repo: 'r' }],
    ['git@github.com:o/r', { owner: 'o', repo: 'r' }],
    ['git@github.com:o/r/', { owner: 'o', repo: 'r' }],
    ['git@github.com:/o/r.git', { owner: 'o', repo: 'r' }],
    ['github.com:o/r.git', { owner: 'o', repo: 'r' }],
    ['  git@github.com:my-org/my.repo.git\n', { owner: 'my-org', repo: 'my.repo' }],
  ])('%j', (url, expected) => {
    expect(parseRepoUrl(url)).toEqual(expected);
  });

  it.each([
    '',
    '   ',
    'o/r',
    'github.com/o/r',
    'https://gitlab.com/o/r.git',
    'git@gitlab.com:o/r.git',
    'https://github.company.com/o/r.git',
    'https://github.com.evil.com/o/r.git',
    'https://api.github.com/repos/o/r',
    'https://github.com/o',
    'https://github.com/o/r/tree/main',
    'https://github.com/o/r/pull/1',
    'https://github.com//o/r',
    'https://github.com/o/r?x=1',
    'ftp://github.com/o/r.git',
    'file:///srv/git/r.git',
    '/srv/git/r.git',
    'git@github.com:o.git',
    'git@github.com:o/r/x.git',
    'https://github.com/-o/r',
    'https://github.com/o/..',
    'https://github.com/o/.git',
    'https://github.com/o/r r',
  ])('%j → null', (url) => {
    expect(parseRepoUrl(url)).toBeNull();
  });
});

describe('URL builders', () => {
  it('canonicalPrUrl keeps casing', () => {
    expect(canonicalPrUrl('MyOrg', 'MyRepo', 42)).toBe('https://github.com/MyOrg/MyRepo/pull/42');
  });

  it('prIdentityKey lower-cases owner and repo only', () => {
    expect(prIdentityKey('MyOrg', 'My.Repo', 42)).toBe('https://github.com/myorg/my.repo/pull/42');
    expect(prIdentityKey('myorg', 'my.repo', 42)).toBe(prIdentityKey('MYORG', 'MY.REPO', 42));
  });

  it('normalizeRepoUrl', () => {
    expect(normalizeRepoUrl('Org', 'Repo')).toBe('https://github.com/Org/Repo');
  });

  it('round-trips: a normalised origin parses back to the same names', () => {
    const parsed = parseRepoUrl('git@github.com:Org/Repo.git');
    expect(parsed).not.toBeNull();
    if (!parsed) return;
    expect(parseRepoUrl(normalizeRepoUrl(parsed.owner, parsed.repo))).toEqual(parsed);
  });
});

describe('resolvePrRef', () => {
  const origin = 'git@github.com:Acme/Widgets.git';

  it.each<[string, string, string]>([
    ['142', origin, 'https://github.com/Acme/Widgets/pull/142'],
    ['#142', 'https://github.com/Acme/Widgets', 'https://github.com/Acme/Widgets/pull/142'],
    ['acme/widgets#142', origin, 'https://github.com/acme/widgets/pull/142'],
    ['https://github.com/ACME/WIDGETS/pull/142/files', origin, 'https://github.com/ACME/WIDGETS/pull/142'],
    ['https://www.github.com/Acme/Widgets.git/pull/142', origin, 'https://github.com/Acme/Widgets/pull/142'],
    // empty origin: a full ref is accepted unchecked (documented; seed gap G8)
    ['https://github.com/other/thing/pull/7', '', 'https://github.com/other/thing/pull/7'],
    ['other/thing#7', '   ', 'https://github.com/other/thing/pull/7'],
  ])('%j with origin %j → %s', (ref, projectRepoUrl, url) => {
    expect(resolvePrRef(ref, projectRepoUrl).url).toBe(url);
  });

  it('returns owner, repo, number and url; number refs take the origin casing', () => {
    expect(resolvePrRef('#9', origin)).toEqual({
      owner: 'Acme',
      repo: 'Widgets',
      number: 9,
      url: 'https://github.com/Acme/Widgets/pull/9',
    });
  });

  it('accepts an already parsed ref', () => {
    expect(resolvePrRef({ kind: 'number', number: 3 }, origin).url).toBe('https://github.com/Acme/Widgets/pull/3');
    expect(resolvePrRef(full('acme', 'widgets', 3), origin).url).toBe('https://github.com/acme/widgets/pull/3');
  });

  it('rejects a bad ref with INVALID_PR_REF before looking at the origin', () => {
    expectCode(() => resolvePrRef('pulls/5', origin), 'INVALID_PR_REF');
    expectCode(() => resolvePrRef('0', ''), 'INVALID_PR_REF');
  });

  it.each(['', '  ', 'https://gitlab.com/acme/widgets.git', '/srv/git/widgets.git', 'not a url'])(
    'a number ref with origin %j → INVALID_PR_REF asking for the full URL',
    (projectRepoUrl) => {
      const err = expectCode(() => resolvePrRef('142', projectRepoUrl), 'INVALID_PR_REF');
      expect(err.message).toBe(
        'project has no GitHub origin; pass the full PR URL (https://github.com/<owner>/<repo>/pull/<n>)',
      );
    },
  );

  it.each<[string, string]>([
    ['https://github.com/other/widgets/pull/1', 'other/widgets'],
    ['https://github.com/acme/gadgets/pull/1', 'acme/gadgets'],
    ['acme/widgets-2#1', 'acme/widgets-2'],
    ['evil/Widgets#1', 'evil/Widgets'],
  ])('%j in a project of Acme/Widgets → PR_PROJECT_MISMATCH', (ref, prRepo) => {
    const err = expectCode(() => resolvePrRef(ref, origin), 'PR_PROJECT_MISMATCH');
    expect(err.status).toBe(422);
    expect(err.details).toEqual({ prRepo, projectRepo: 'Acme/Widgets' });
    expect(err.message).toContain(prRepo);
    expect(err.message).toContain('Acme/Widgets');
  });

  it('a full ref for a project whose origin is not GitHub is a mismatch, and the origin is not echoed', () => {
    const err = expectCode(
      () => resolvePrRef('https://github.com/acme/widgets/pull/1', 'https://user:s3cret@gitlab.com/acme/widgets.git'),
      'PR_PROJECT_MISMATCH',
    );
    expect(err.details).toEqual({ prRepo: 'acme/widgets', projectRepo: null });
    expect(JSON.stringify(err.toBody())).not.toContain('s3cret');
  });

  it('never echoes credentials from the origin', () => {
    const secretOrigin = 'https://x-access-token:ghs_topsecret@github.com/Acme/Widgets.git';
    expect(resolvePrRef('5', secretOrigin).url).toBe('https://github.com/Acme/Widgets/pull/5');
    const err = expectCode(() => resolvePrRef('other/x#5', secretOrigin), 'PR_PROJECT_MISMATCH');
    expect(JSON.stringify(err.toBody())).not.toContain('topsecret');
  });
});
