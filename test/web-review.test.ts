import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { launchBrowser, openPage, screenshot } from './helpers/browser.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, jobDone, startServe, waitFor } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';
import { photo, variant } from './helpers/variants.js';

// Duplicate review in a real browser (Debian's chromium through playwright-core) against a real
// `lumina serve` on a real catalog: every decision is made with the keyboard and checked in the
// database through the API.

const PAIRS = 24;

/** PAIRS byte-identical pairs (exact groups) and three originals with edited copies (near groups). */
async function archive(t: Test): Promise<string> {
  const root = tmpDir(t, 'lumina-web-review-');
  fs.mkdirSync(path.join(root, 'backup'));
  for (let i = 0; i < PAIRS; i++) {
    // Sizes differ from pair to pair, so "bytes reclaimable" orders them.
    const file = path.join(root, `IMG_${String(i).padStart(4, '0')}.jpg`);
    await sharp(await photo(500 + i, 320 + 8 * i, 240 + 6 * i))
      .withExif({ IFD0: { Make: 'Canon', Model: 'EOS R6' }, IFD2: { DateTimeOriginal: `2021:07:${String(1 + (i % 28)).padStart(2, '0')} 10:00:00` } })
      .jpeg({ quality: 85 })
      .toFile(file);
    fs.copyFileSync(file, path.join(root, 'backup', path.basename(file)));
  }
  for (let f = 0; f < 3; f++) {
    const original = await photo(700 + f, 1200, 900);
    const dir = path.join(root, `edits-${f}`);
    fs.mkdirSync(dir);
    await sharp(original).withExif({ IFD0: { Make: 'Sony', Model: 'ILCE-7M3' } }).jpeg({ quality: 92 }).toFile(path.join(dir, 'original.jpg'));
    for (const v of ['resized', 'jpeg_q40'] as const) {
      const { bytes, ext } = await variant(original, v);
      fs.writeFileSync(path.join(dir, `${v}.${ext}`), bytes);
    }
  }
  return root;
}

interface Group {
  id: number;
  kind: string;
  review_status: string;
  version: number;
  keeper_asset_id: number | null;
  members: { asset_id: number; decision: string | null; path: string }[];
}

async function groupsOf(base: string, catalogId: string, status?: string): Promise<Group[]> {
  const r = await api(base, 'GET', `/api/catalogs/${catalogId}/duplicates?limit=500${status ? `&status=${status}` : ''}`);
  return r.json.items as Group[];
}

/** The group the page shows now, by the id the queue marks current. */
async function currentGroup(page: Page): Promise<number> {
  return Number(await page.locator('.queue button.current').getAttribute('data-group'));
}

async function waitMessage(page: Page, pattern: RegExp): Promise<string> {
  await page.getByTestId('message').filter({ hasText: pattern }).waitFor({ timeout: 15_000 });
  return (await page.getByTestId('message').textContent()) ?? '';
}

t.test('duplicate review by keyboard in a real browser', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const root = await archive(t);
  const server = await startServe(t, env);
  const base = server.url;

  const created = await api(base, 'POST', '/api/catalogs', { body: { name: 'Review', source_directories: [root] } });
  const catalogId = created.json.id as string;
  const scan = await api(base, 'POST', '/api/jobs/scan', { body: { catalog_id: catalogId } });
  t.equal((await jobDone(base, scan.json.id)).status, 'completed', 'scanned');
  const dupes = await api(base, 'POST', '/api/jobs/duplicates', { body: { catalog_id: catalogId, embeddings: 'off' } });
  t.equal((await jobDone(base, dupes.json.id)).status, 'completed', 'duplicates found');
  const open = await groupsOf(base, catalogId, 'open');
  t.ok(open.length >= PAIRS + 3, `${open.length} groups to review`);

  const browser = await launchBrowser(t);
  const page = await openPage(browser, undefined, t, 'web-review');

  // A deep link, loaded cold and reloaded: the server hands out the app for any route.
  await page.goto(`${base}/catalogs/${catalogId}/duplicates`);
  await page.locator('.queue button').first().waitFor();
  await page.reload();
  await page.locator('.queue button.current').waitFor();
  t.match(await page.getByTestId('group-count').textContent(), new RegExp(`^${open.length} groups`), 'the queue counts every open group');

  // Thumbnails render: each shown picture has pixels.
  await page.waitForFunction(`[...document.querySelectorAll('[data-testid=compare] img')].every((i) => i.complete && i.naturalWidth > 0)`);
  t.ok(await page.locator('[data-testid=compare] img').count() >= 2, 'the members are shown side by side');

  // Sorted by bytes reclaimable, largest first.
  const queueIds = await page.locator('.queue button').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-group'))));
  const bytesOf = new Map((await groupsOf(base, catalogId, 'open')).map((g) => [g.id, (g as unknown as { bytes_reclaimable: number }).bytes_reclaimable]));
  const queueBytes = queueIds.map((id) => bytesOf.get(id)!);
  t.same(queueBytes, [...queueBytes].sort((a, b) => b - a), 'the queue is sorted by bytes reclaimable');

  // Zoom moves every picture together, whatever its size; A/B flips two members in one pane.
  await page.keyboard.press('z');
  await page.locator('[data-testid=compare][data-scale="2.00"]').waitFor();
  const transforms = await page.locator('[data-testid=compare] img').evaluateAll((els) => els.map((e) => (e as unknown as { style: { transform: string } }).style.transform));
  t.ok(transforms.length >= 2 && transforms.every((x) => x === transforms[0] && /scale\(2\)/.test(x)), `every picture zoomed alike: ${transforms[0]}`);
  await page.keyboard.press('z');
  await page.keyboard.press('z');
  await page.locator('[data-testid=compare][data-scale="1.00"]').waitFor();
  await page.keyboard.press('b');
  t.equal(await page.locator('[data-testid=compare] .pane').count(), 1, 'A/B shows one pane');
  t.match(await page.locator('[data-testid=compare] .tag').textContent(), /^A · 1/);
  await page.keyboard.press('b');
  t.match(await page.locator('[data-testid=compare] .tag').textContent(), /^B · 2/, 'and flips to the other member');
  await page.keyboard.press('o');

  await page.keyboard.press('?');
  await page.getByRole('dialog', { name: 'keyboard shortcuts' }).waitFor();
  await screenshot(page, 'review-help');
  await page.keyboard.press('Escape');

  // Twenty groups resolved with the keyboard alone: keep member 2, not the suggested member 1.
  const decided: { id: number; keep: number; remove: number }[] = [];
  for (let n = 0; n < 20; n++) {
    const id = await currentGroup(page);
    const g = (await api(base, 'GET', `/api/catalogs/${catalogId}/duplicates/${id}`)).json as Group;
    const keep = Number(await page.locator('.member[data-member="2"]').getAttribute('data-asset'));
    const remove = Number(await page.locator('.member[data-member="1"]').getAttribute('data-asset'));
    t.equal(remove, g.keeper_asset_id, `group ${id}: the suggested keeper comes first and is pre-selected`);
    await page.keyboard.press('2');
    await page.keyboard.press('1');
    await page.keyboard.press('Enter');
    await waitMessage(page, new RegExp(`^Group ${id}: kept 1`));
    decided.push({ id, keep, remove });
    if (n === 0) await screenshot(page, 'review');
  }
  for (const d of decided) {
    const g = (await api(base, 'GET', `/api/catalogs/${catalogId}/duplicates/${d.id}`)).json as Group;
    const decisions = Object.fromEntries(g.members.map((m) => [m.asset_id, m.decision]));
    if (g.review_status !== 'resolved' || decisions[d.keep] !== 'keep' || decisions[d.remove] !== 'remove') {
      t.fail(`group ${d.id} was not recorded as decided: ${JSON.stringify(g)}`);
    }
  }
  t.pass('20 decisions made by keyboard are in the database');

  // Undo: the last decision is taken back.
  const last = decided.at(-1)!;
  await page.keyboard.press('u');
  await waitMessage(page, /^Undone: group/);
  t.equal((await api(base, 'GET', `/api/catalogs/${catalogId}/duplicates/${last.id}`)).json.review_status, 'open', 'undo reopens the group in the database');
  t.equal(await currentGroup(page), last.id, 'and shows it again');
  await page.keyboard.press('j');

  // "Not duplicates", then detection again: the group stays dismissed.
  const dismissed = await currentGroup(page);
  await page.keyboard.press('n');
  await waitMessage(page, new RegExp(`^Group ${dismissed}: not duplicates`));
  const again = await api(base, 'POST', '/api/jobs/duplicates', { body: { catalog_id: catalogId, embeddings: 'off' } });
  t.equal((await jobDone(base, again.json.id)).status, 'completed');
  t.equal((await api(base, 'GET', `/api/catalogs/${catalogId}/duplicates/${dismissed}`)).json.review_status, 'dismissed', 'a dismissed group stays dismissed after detection runs again');
  await waitMessage(page, /^Duplicate detection finished/);
  t.pass('the open page reads the queue again when a detection run ends');

  // A stale decision: a second browser context decides the group this page still shows.
  await page.reload();
  await page.locator('.queue button.current').waitFor();
  const contested = await currentGroup(page);
  const other = await openPage(browser);
  await other.goto(`${base}/catalogs/${catalogId}/duplicates`);
  await other.locator('.queue button.current').waitFor();
  t.equal(await currentGroup(other), contested, 'both contexts show the same group');
  await other.keyboard.press('n');
  await waitMessage(other, new RegExp(`^Group ${contested}: not duplicates`));
  await page.keyboard.press('Enter');
  const stale = await waitMessage(page, /changed since it was loaded/);
  t.match(stale, new RegExp(`Group ${contested}`), 'the stale page is told (HTTP 409) and reloads the group');
  t.equal((await api(base, 'GET', `/api/catalogs/${catalogId}/duplicates/${contested}`)).json.review_status, 'dismissed', 'the first decision stands');
  t.equal(await page.getByTestId('group-status').textContent(), 'dismissed', 'the page shows the group as it is now');
  await other.context().close();

  // Bulk: the preview's count is what the server resolves.
  const stillOpen = (await groupsOf(base, catalogId, 'open')).filter((g) => g.keeper_asset_id !== null).length;
  await page.getByRole('button', { name: /^Keep suggested for all/ }).click();
  const preview = page.getByTestId('bulk-preview');
  await preview.waitFor();
  await screenshot(page, 'review-bulk-preview');
  const previewCount = Number(await preview.locator('[data-field=groups]').textContent());
  t.equal(previewCount, stillOpen, `the preview counts the ${stillOpen} open groups`);
  await page.getByRole('button', { name: /^Apply to/ }).click();
  const result = page.getByTestId('bulk-result');
  await result.waitFor();
  t.equal(Number(await result.locator('[data-field=resolved]').textContent()), previewCount, 'the server resolved as many as previewed');
  t.equal((await groupsOf(base, catalogId, 'open')).length, 0, 'no open group is left');
  const resolved = await groupsOf(base, catalogId, 'resolved');
  t.ok(resolved.every((g) => g.members.some((m) => m.decision === 'keep')), 'every resolved group keeps a copy');

  // A filtered link reloads as it was; a page for something that is not an id is no page.
  await page.goto(`${base}/catalogs/${catalogId}/duplicates?status=all`);
  await page.locator('.queue button.current').waitFor();
  const every = (await groupsOf(base, catalogId)).length;
  t.match(await page.getByTestId('group-count').textContent(), new RegExp(`^${every} groups`), `status=all lists all ${every} groups after a reload`);
  await page.goto(`${base}/catalogs/not-an-id/duplicates`);
  await page.getByRole('heading', { name: 'Not found' }).waitFor();
  t.pass('a catalog path without an id is not found');

  // The browser logs the expected 409 as a failed load; nothing else may show up.
  t.same(page.problems.filter((p) => !/status of 409/.test(p)), [], 'no script errors on the page');
});
