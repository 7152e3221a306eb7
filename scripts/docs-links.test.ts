import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import GithubSlugger from 'github-slugger';

/**
 * Every link to a section of the docs leads to one: the README, the docs and the alert rules'
 * runbook links (an alert's description is what an operator paged at night follows). Anchors
 * are GitHub's, as github-slugger makes them from each file's headings in turn.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = join(ROOT, 'docs');
const SOURCES = [
  'README.md',
  ...readdirSync(DOCS)
    .filter((file) => file.endsWith('.md'))
    .map((file) => join('docs', file)),
  'deploy/observability/prometheus/alerts.yml',
];

/** The anchors GitHub gives a Markdown file's headings (outside code blocks). */
function anchorsOf(file: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  let inCode = false;
  for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
    if (/^\s*```/.test(line)) inCode = !inCode;
    const heading = inCode ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    // GitHub slugs a heading's text as shown: a link's text, not its target; no code marks.
    if (heading?.[1])
      anchors.add(slugger.slug(heading[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '')));
  }
  return anchors;
}

/** Each `file.md#anchor` (or a bare `#anchor`) a source links to, with the file it names. */
function sectionLinksOf(source: string): Array<{ link: string; target: string; anchor: string }> {
  const text = readFileSync(join(ROOT, source), 'utf8');
  // Markdown resolves a link from its own file; an alert's text names paths from the repository's root.
  const from = source.endsWith('.md') ? dirname(source) : '.';
  const links = [...text.matchAll(/\]\(([^)\s]*#[^)\s]+)\)|(?<![\w/.(])((?:[\w./-]+\.md)#[\w-]+)/g)];
  return links.map((match) => {
    const link = (match[1] ?? match[2]) as string;
    const [path, anchor] = link.split('#') as [string, string];
    const target = path === '' ? source : relative(ROOT, join(ROOT, from, path));
    return { link, target, anchor };
  });
}

describe('links to sections of the docs', () => {
  it.each(SOURCES)('%s: every section it links to exists', (source) => {
    const broken = sectionLinksOf(source)
      .filter(({ target, anchor }) => !anchorsOf(target).has(anchor))
      .map(({ link }) => link);
    expect(broken).toEqual([]);
  });

  it('finds the links it checks, in the docs and in the alert rules', () => {
    expect(sectionLinksOf('deploy/observability/prometheus/alerts.yml').length).toBeGreaterThanOrEqual(12);
    expect(SOURCES.flatMap(sectionLinksOf).length).toBeGreaterThan(40);
  });
});
