import {
  allCitations,
  Citation,
  citationsIn,
  commentsOf,
  documentCitations,
  problemWith,
  repositoryDocuments,
} from './support/comment-citations';

function unresolved(citations: Citation[]): string[] {
  return citations.flatMap((c) => {
    const problem = problemWith(c);
    return problem ? [`${c.file}:${c.line}: ${problem}`] : [];
  });
}

/**
 * Code comments and the repository's documents cite only what the repository
 * holds: a renamed file or a note kept outside it leaves a citation pointing
 * nowhere, and this names it. Comments are read with TypeScript's scanner
 * (test/support/comment-citations.ts); no app, database or Redis is needed.
 */
describe('citations', () => {
  it('in code comments under src, test, bench, scripts and migrations name files that exist', () => {
    const citations = allCitations();
    expect(citations.length).toBeGreaterThan(20);
    expect(unresolved(citations)).toEqual([]);
  });

  it('of repository paths in README.md and docs/*.md name files that exist', () => {
    const citations = repositoryDocuments().flatMap(documentCitations);
    expect(citations.length).toBeGreaterThan(20);
    expect(unresolved(citations)).toEqual([]);
  });

  it('are read from comments only, not from strings, templates or regular expressions', () => {
    const source = [
      "const url = 'http://x/src/nowhere.ts'; // see src/main.ts",
      'const re = /[/][/] src[/]nowhere.ts/g; const half = 1 / 2; /* test/support/http.ts */',
      'const t = `${half}// src/nowhere.ts ${`${re}`}`; // README.md',
    ].join('\n');
    expect(commentsOf(source)).toEqual([
      { line: 1, text: '// see src/main.ts' },
      { line: 2, text: '/* test/support/http.ts */' },
      { line: 3, text: '// README.md' },
    ]);
  });

  it('that point nowhere are reported: a missing file, a missing section, a renamed source file', () => {
    const comment = [
      '/**',
      ' * See NOTES-OUTSIDE.md, docs/architecture.md "No such heading",',
      ' * src/reviews/reviews.cron.ts and credential-rows.ts; src/main.ts is fine.',
      ' */',
    ].join('\n');
    expect(unresolved(citationsIn('x.ts', 1, comment))).toEqual([
      'x.ts:1: src/reviews/reviews.cron.ts is not in the repository',
      'x.ts:1: NOTES-OUTSIDE.md is not in the repository',
      'x.ts:1: docs/architecture.md has no section "No such heading"',
      'x.ts:1: no file named credential-rows.ts in the repository',
    ]);
  });
});
