import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AxeResults, ImpactValue } from 'axe-core';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../../src/shared/project-root';

/**
 * Debian's chromium, never a downloaded browser: CI installs the package (.ci/run) and playwright-core
 * only drives it. The flags keep a headless run quiet and offline apart from the app under test.
 */
export const CHROMIUM = '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run test:e2e`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

export const DESKTOP = { width: 1024, height: 768 };
export const MOBILE = { width: 390, height: 844 };

/**
 * A page that records what the strict CSP refused (inline script or style, a foreign asset) and every
 * script error, so a test can assert the pages work under the policy people actually get.
 */
export interface WatchedPage {
  page: Page;
  problems: string[];
}

export async function watchedPage(context: BrowserContext): Promise<WatchedPage> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) {
      problems.push(`CSP: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`script error: ${error.message}`));
  page.on('response', (response) => {
    const request = response.request();
    // Documents may be error pages on purpose; a missing stylesheet, script or image never is.
    // Chromium asks for /favicon.ico on its own on pages (the sandbox's) that name no icon.
    if (request.resourceType() !== 'document' && response.status() >= 400 && !request.url().endsWith('/favicon.ico')) {
      problems.push(`HTTP ${response.status()} for ${request.resourceType()} ${new URL(request.url()).pathname}`);
    }
  });
  return { page, problems };
}

/** Where the suite writes the pictures the README shows. */
export const SCREENSHOTS_DIR = join(PROJECT_ROOT, 'docs', 'screenshots');

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS_DIR, `${name}.png`), fullPage: true });
}

// --- accessibility -----------------------------------------------------------------------------------

const AXE_SOURCE = require.resolve('axe-core/axe.min.js');
const BLOCKING: ImpactValue[] = ['serious', 'critical'];

export interface AxeSummary {
  page: string;
  url: string;
  passes: number;
  violations: Array<{ id: string; impact: ImpactValue | null | undefined; nodes: number; help: string }>;
}

/**
 * Runs axe-core in the page. The page must come from a context created with `bypassCSP: true`:
 * injecting axe is itself an inline script, which the app's CSP (script-src 'self') rightly refuses.
 * The journeys run in contexts that keep the CSP, so bypassing it here hides nothing.
 */
export async function runAxe(page: Page, name: string): Promise<AxeSummary> {
  await page.addScriptTag({ path: AXE_SOURCE });
  const results = (await page.evaluate(
    'axe.run(document, { resultTypes: ["violations"], runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] })',
  )) as AxeResults;
  return {
    page: name,
    url: new URL(page.url()).pathname,
    passes: results.passes.length,
    violations: results.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help })),
  };
}

export function blockingViolations(summary: AxeSummary): AxeSummary['violations'] {
  return summary.violations.filter((v) => v.impact !== undefined && v.impact !== null && BLOCKING.includes(v.impact));
}

/** Kept out of git (test-results/): the numbers behind the accessibility claim of a run. */
export function writeAxeReport(summaries: AxeSummary[]): void {
  const dir = join(PROJECT_ROOT, 'test-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'axe-summary.json'), `${JSON.stringify(summaries, null, 2)}\n`);
}

// --- keyboard ----------------------------------------------------------------------------------------

export interface FocusInfo {
  tag: string;
  label: string;
  visible: boolean;
  why: string;
}

/**
 * What has focus, and whether a sighted keyboard user can see it: a real outline (or a box shadow),
 * and the element on screen. Evaluated as text: the test project has no DOM typings.
 */
export async function focusInfo(page: Page): Promise<FocusInfo | null> {
  return (await page.evaluate(`(() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const style = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
    const shadow = style.boxShadow !== 'none';
    const onScreen = rect.width > 0 && rect.height > 0 && rect.bottom > 0 && rect.top < innerHeight && rect.right > 0 && rect.left < innerWidth;
    const labelled = el.labels && el.labels[0] ? el.labels[0].textContent : '';
    const label = (el.getAttribute('aria-label') || labelled || el.textContent || el.value || '').replace(/\\s+/g, ' ').trim();
    return {
      tag: el.tagName.toLowerCase(),
      label,
      visible: (outline || shadow) && onScreen,
      why: 'outline ' + style.outlineStyle + ' ' + style.outlineWidth + ', box-shadow ' + style.boxShadow + ', rect ' + [rect.top, rect.left, rect.width, rect.height].map(Math.round).join(','),
    };
  })()`)) as FocusInfo | null;
}

/**
 * Presses Tab until the focused element's label matches, checking at every stop that focus is
 * visible. Returns every stop on the way (for the assertion message).
 */
export async function tabTo(page: Page, target: RegExp, options: { max?: number; shift?: boolean } = {}) {
  const stops: FocusInfo[] = [];
  for (let i = 0; i < (options.max ?? 25); i += 1) {
    await page.keyboard.press(options.shift ? 'Shift+Tab' : 'Tab');
    // The browser scrolls the focused element into view on a later frame; on a loaded machine a
    // measurement taken at once can still see it off-screen. Let two frames pass first.
    await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
    const focus = await focusInfo(page);
    if (!focus) continue;
    stops.push(focus);
    if (!focus.visible) throw new Error(`focus is not visible on <${focus.tag}> "${focus.label}": ${focus.why}`);
    if (target.test(focus.label)) return stops;
  }
  throw new Error(`Tab never reached ${target}; stops: ${stops.map((s) => `${s.tag} "${s.label}"`).join(' → ')}`);
}
