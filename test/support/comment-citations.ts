import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';

import * as ts from 'typescript';

/** The repository root: test/support/ is two levels down. */
export const REPO_ROOT = join(__dirname, '..', '..');

/** Folders whose code comments are checked. */
export const COMMENTED_FOLDERS = ['src', 'test', 'bench', 'scripts', 'migrations'];

/** Folders a path citation can start with. */
const CITABLE_ROOTS = ['src', 'test', 'bench', 'scripts', 'migrations', 'docs', '.ci'];

export interface Citation {
  /** Repository-relative file holding the comment. */
  file: string;
  line: number;
  /** What the comment cites, as written (a path, a Markdown file, or a file name). */
  cited: string;
  /** For a Markdown file followed by a quoted heading: the section named. */
  section?: string;
}

/** Every `.ts`, `.cjs` and `.mjs` file under the folders, repository-relative. */
export function sourceFiles(folders = COMMENTED_FOLDERS): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(REPO_ROOT, dir))) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const path = join(dir, name);
      if (statSync(join(REPO_ROOT, path)).isDirectory()) walk(path);
      else if (/\.(ts|cjs|mjs)$/.test(name)) out.push(path);
    }
  };
  for (const folder of folders) if (existsSync(join(REPO_ROOT, folder))) walk(folder);
  return out.sort();
}

/** Tokens after which a `/` divides; after anything else it starts a regular expression. */
const ENDS_OPERAND = new Set<ts.SyntaxKind>([
  ts.SyntaxKind.Identifier,
  ts.SyntaxKind.PrivateIdentifier,
  ts.SyntaxKind.NumericLiteral,
  ts.SyntaxKind.BigIntLiteral,
  ts.SyntaxKind.StringLiteral,
  ts.SyntaxKind.RegularExpressionLiteral,
  ts.SyntaxKind.NoSubstitutionTemplateLiteral,
  ts.SyntaxKind.TemplateTail,
  ts.SyntaxKind.CloseParenToken,
  ts.SyntaxKind.CloseBracketToken,
  ts.SyntaxKind.CloseBraceToken,
  ts.SyntaxKind.PlusPlusToken,
  ts.SyntaxKind.MinusMinusToken,
  ts.SyntaxKind.ThisKeyword,
  ts.SyntaxKind.SuperKeyword,
  ts.SyntaxKind.TrueKeyword,
  ts.SyntaxKind.FalseKeyword,
  ts.SyntaxKind.NullKeyword,
  ts.SyntaxKind.UndefinedKeyword,
]);

/**
 * The comments of a TypeScript/JavaScript text with the line each starts on,
 * from TypeScript's scanner: `//` inside a string, a template or a regular
 * expression is not a comment. A `/` is a regular expression where an operand
 * is expected, and a `}` closing a template's `${…}` continues the template.
 */
export function commentsOf(text: string): Array<{ line: number; text: string }> {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, text);
  const comments: Array<{ line: number; text: string }> = [];
  const braces: Array<'brace' | 'template'> = [];
  let previous = ts.SyntaxKind.Unknown;
  let line = 1;
  let counted = 0;
  const lineAt = (pos: number): number => {
    for (; counted < pos; counted++) if (text.charCodeAt(counted) === 10) line++;
    return line;
  };
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    if (kind === ts.SyntaxKind.SingleLineCommentTrivia || kind === ts.SyntaxKind.MultiLineCommentTrivia) {
      comments.push({ line: lineAt(scanner.getTokenStart()), text: scanner.getTokenText() });
      continue;
    }
    if (kind === ts.SyntaxKind.WhitespaceTrivia || kind === ts.SyntaxKind.NewLineTrivia) continue;
    if ((kind === ts.SyntaxKind.SlashToken || kind === ts.SyntaxKind.SlashEqualsToken) && !ENDS_OPERAND.has(previous)) {
      kind = scanner.reScanSlashToken();
    }
    if (kind === ts.SyntaxKind.OpenBraceToken) braces.push('brace');
    else if (kind === ts.SyntaxKind.TemplateHead) braces.push('template');
    else if (kind === ts.SyntaxKind.CloseBraceToken && braces.pop() === 'template') {
      kind = scanner.reScanTemplateToken(false);
      if (kind === ts.SyntaxKind.TemplateMiddle) braces.push('template');
    }
    previous = kind;
  }
  return comments;
}

const PATH = new RegExp(String.raw`(?<![\w./-])((?:${CITABLE_ROOTS.map((r) => r.replace('.', '\\.')).join('|')})/[\w./-]*[\w/])`, 'g');
const MARKDOWN = /(?<![\w./-])([\w./-]*[\w-]\.md)\b(?:,? "([^"]+)")?/g;
const FILE_NAME = /(?<![\w./-])([\w-]+(?:\.[\w-]+)*\.(?:ts|cjs|mjs))\b/g;

/**
 * The files a text cites: repository paths, Markdown documents (with the
 * quoted heading that follows one, as in `docs/architecture.md "Process roles"`)
 * and bare source file names. Comment markers at line starts are dropped so a
 * citation may wrap.
 */
export function citationsIn(file: string, line: number, comment: string): Citation[] {
  const found: Citation[] = [];
  const text = comment.replace(/\n\s*(\*|\/\/)?\s*/g, ' ');
  for (const m of text.matchAll(PATH)) {
    if (/\.md$/.test(m[1])) continue;
    found.push({ file, line, cited: m[1] });
  }
  for (const m of text.matchAll(MARKDOWN)) found.push({ file, line, cited: m[1], section: m[2] });
  for (const m of text.matchAll(FILE_NAME)) {
    const start = m.index ?? 0;
    // A name inside a path is checked as the path.
    if (start > 0 && text[start - 1] === '/') continue;
    found.push({ file, line, cited: m[1] });
  }
  return found;
}

let basenames: Set<string> | undefined;
function repoBasenames(): Set<string> {
  basenames ??= new Set([...sourceFiles([...COMMENTED_FOLDERS, '.ci']), ...rootFiles()].map((path) => basename(path)));
  return basenames;
}

function rootFiles(): string[] {
  return readdirSync(REPO_ROOT).filter((name) => statSync(join(REPO_ROOT, name)).isFile());
}

/** The headings of a Markdown file, without their `#`s. */
function headingsOf(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => /^#{1,6} /.test(l))
    .map((l) => l.replace(/^#+ /, '').trim());
}

/** Why a citation points nowhere, or undefined when it resolves. */
export function problemWith(citation: Citation): string | undefined {
  const { cited, section } = citation;
  if (cited.endsWith('.md')) {
    const candidates = cited.includes('/') ? [cited] : [cited, join('docs', cited)];
    const path = candidates.map((c) => join(REPO_ROOT, c)).find((p) => existsSync(p));
    if (!path) return `${cited} is not in the repository`;
    if (section && !headingsOf(path).includes(section)) return `${relative(REPO_ROOT, path)} has no section "${section}"`;
    return undefined;
  }
  if (cited.includes('/')) {
    const path = join(REPO_ROOT, cited);
    const resolves = [path, `${path}.ts`, join(path, 'index.ts')].some((p) => existsSync(p));
    return resolves ? undefined : `${cited} is not in the repository`;
  }
  return repoBasenames().has(cited) ? undefined : `no file named ${cited} in the repository`;
}

/** Every citation in the code comments of the folders. */
export function allCitations(folders = COMMENTED_FOLDERS): Citation[] {
  return sourceFiles(folders).flatMap((file) =>
    commentsOf(readFileSync(join(REPO_ROOT, file), 'utf8')).flatMap((c) => citationsIn(file, c.line, c.text)),
  );
}

/** Repository paths a Markdown document names in backticks or links (README.md, docs/*.md). */
export function documentCitations(document: string): Citation[] {
  const text = readFileSync(join(REPO_ROOT, document), 'utf8');
  const found: Citation[] = [];
  text.split('\n').forEach((lineText, i) => {
    for (const span of lineText.matchAll(/`([^`]+)`|\]\(([^)#]+)(?:#[^)]*)?\)/g)) {
      const inner = span[1] ?? span[2];
      for (const m of inner.matchAll(PATH)) {
        if (/[*<>{}]/.test(m[1])) continue;
        found.push({ file: document, line: i + 1, cited: m[1] });
      }
      if (span[2] && /\.md$/.test(span[2])) found.push({ file: document, line: i + 1, cited: join(dirname(document), span[2]) });
    }
  });
  return found;
}

/** README.md and every Markdown file under docs/. */
export function repositoryDocuments(): string[] {
  const docs = existsSync(join(REPO_ROOT, 'docs'))
    ? readdirSync(join(REPO_ROOT, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .map((name) => join('docs', name))
    : [];
  return ['README.md', ...docs.sort()];
}
