import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import GithubSlugger from 'github-slugger';
import { marked, type Token } from 'marked';

/**
 * The README and docs/ are what a newcomer reads first: the README stays short, and every relative
 * link in them (and in bench/README.md) leads to a file that exists and, with a #fragment, to a
 * heading of that page (anchors as GitHub makes them).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MAX_README_LINES = 250;

function markdownFiles(): string[] {
  const inDocs = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? inDocs(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
    );
  return ['README.md', 'bench/README.md', ...inDocs('docs')];
}

function tokensOf(file: string): Token[] {
  return marked.lexer(readFileSync(join(root, file), 'utf8'));
}

/** The text a heading shows (what GitHub slugs), without its markup. */
function plainText(tokens: Token[]): string {
  return tokens.map((t) => ('tokens' in t && t.tokens ? plainText(t.tokens) : 'text' in t ? String(t.text) : '')).join('');
}

function anchorsOf(file: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  marked.walkTokens(tokensOf(file), (t) => {
    if (t.type === 'heading') anchors.add(slugger.slug(plainText(t.tokens ?? [])));
  });
  return anchors;
}

/** Links and images whose target is in the repository (not a URL with a scheme). */
function relativeLinksOf(file: string): string[] {
  const hrefs: string[] = [];
  marked.walkTokens(tokensOf(file), (t) => {
    if ((t.type === 'link' || t.type === 'image') && !/^[a-z][a-z0-9+.-]*:/i.test(t.href)) hrefs.push(t.href);
  });
  return hrefs;
}

/** Why a link of `file` does not resolve, or null when it does. */
function brokenReason(file: string, href: string): string | null {
  const [pathPart, fragment] = href.split('#', 2);
  const target = pathPart ? join(dirname(file), decodeURIComponent(pathPart)) : file;
  if (relative(root, join(root, target)).startsWith('..')) return 'points outside the repository';
  if (!existsSync(join(root, target))) return `${target} does not exist`;
  if (fragment === undefined || statSync(join(root, target)).isDirectory()) return null;
  if (!target.endsWith('.md')) return `#${fragment} on a file that is not markdown`;
  return anchorsOf(target).has(fragment) ? null : `${target} has no heading #${fragment}`;
}

describe('the README and docs/', () => {
  it(`the README has at most ${MAX_README_LINES} lines`, () => {
    const lines = readFileSync(join(root, 'README.md'), 'utf8').trimEnd().split('\n').length;
    expect(lines).to.be.at.most(MAX_README_LINES);
  });

  it('every relative link leads to an existing file and, with a #fragment, to a heading of it', () => {
    const files = markdownFiles();
    expect(files).to.include.members(['docs/architecture.md', 'docs/operations.md', 'docs/performance.md']);
    const broken = files.flatMap((file) =>
      relativeLinksOf(file).flatMap((href) => {
        const reason = brokenReason(file, href);
        return reason ? [`${file}: (${href}) ${reason}`] : [];
      }),
    );
    expect(broken).to.deep.equal([]);
  });

  it('the README links every page of docs/', () => {
    const linked = new Set(relativeLinksOf('README.md').map((href) => href.split('#')[0]));
    const pages = readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md'));
    expect(pages.filter((name) => !linked.has(`docs/${name}`))).to.deep.equal([]);
  });

  it('finds a broken link and a missing heading (the checks can fail)', () => {
    expect(brokenReason('README.md', 'docs/no-such-page.md')).to.equal('docs/no-such-page.md does not exist');
    expect(brokenReason('README.md', 'docs/architecture.md#no-such-heading')).to.equal('docs/architecture.md has no heading #no-such-heading');
    expect(brokenReason('docs/api.md', 'delivery.md#inspection-and-replay')).to.equal(null);
  });
});
