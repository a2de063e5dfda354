import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { launchBrowser, openPage, screenshot } from './helpers/browser.js';
import { runCli } from './helpers/cli.js';
import { writePhoto } from './helpers/corpus.js';
import { configFor, envFor } from './helpers/postgres.js';
import { api, jobDone, startServe } from './helpers/server.js';
import { tmpDir } from './helpers/tmp.js';

// The rest of the page in a real browser: the token prompt, a scan started from the page and
// watched live (through a server restart), the failed files, browsing with filters and an
// upright EXIF-rotated picture, and an organize plan.

const TINY = 300;

/** The part of an <img> element read here (the tests compile without the DOM's types). */
interface Img {
  naturalWidth: number;
  naturalHeight: number;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

t.test('token prompt, a scan watched live through a reconnect, browse, organize', async (t) => {
  const config = await configFor(t, 'pglite');
  const env = envFor(config);
  const root = tmpDir(t, 'lumina-web-ui-');
  // Enough small pictures that the grid renders only some of them.
  for (let i = 0; i < TINY; i++) {
    await sharp({ create: { width: 96, height: 72, channels: 3, background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 } } })
      .withExif({ IFD0: { Make: i % 3 ? 'Canon' : 'Nikon' } })
      .jpeg()
      .toFile(path.join(root, `tiny-${String(i).padStart(3, '0')}.jpg`));
  }
  // Stored sideways, shown upright: 600×400 pixels with orientation 6 (turn 90° clockwise).
  const turned = await writePhoto(path.join(root, 'turned.jpg'), { seed: 11, width: 600, height: 400, orientation: 6, make: 'Fujifilm' });
  const broken = path.join(root, 'broken.jpg');
  fs.writeFileSync(broken, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(300, 7)]));
  const files = TINY + 2;

  const token = JSON.parse((await runCli(['token', 'create', '--name', 'browser', '--json'], { env })).stdout).token as string;
  const port = await freePort();
  const serveArgs = ['--port', String(port), '--require-auth'];
  let server = await startServe(t, env, serveArgs);
  const base = `http://127.0.0.1:${port}`;

  // The real build, as served: the page revalidated, its hashed script cached for good.
  const index = await fetch(base + '/catalogs/x/duplicates');
  t.equal(index.headers.get('cache-control'), 'no-cache', 'a deep link gets index.html, revalidated');
  const script = (await index.text()).match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
  t.ok(script, `index.html loads a hashed script: ${script}`);
  const asset = await fetch(base + script);
  t.equal(asset.status, 200);
  t.match(asset.headers.get('cache-control'), /immutable/, 'hashed assets are immutable');

  const browser = await launchBrowser(t);
  const page = await openPage(browser, undefined, t, 'web-ui');
  const sockets: string[] = [];
  const onFrame: ((text: string) => void)[] = [];
  const t0 = Date.now();
  page.on('websocket', (ws) => {
    sockets.push(`${Date.now() - t0} ms open ${ws.url().replace(/token=[^&]+/, 'token=…')}`);
    ws.on('close', () => sockets.push(`${Date.now() - t0} ms close`));
    ws.on('framesent', (f) => sockets.push(`${Date.now() - t0} ms sent ${String(f.payload).slice(0, 200)}`));
    ws.on('framereceived', (f) => {
      for (const listener of onFrame) listener(String(f.payload));
      if (!String(f.payload).includes('job_progress')) sockets.push(`${Date.now() - t0} ms received ${String(f.payload).slice(0, 200)}`);
    });
    ws.on('socketerror', (e) => sockets.push(`${Date.now() - t0} ms error ${e}`));
  });
  page.on('console', (m) => sockets.push(`${Date.now() - t0} ms console ${m.type()} ${m.text().slice(0, 200)}`));

  // No page works without the token; a wrong one is refused in words.
  await page.goto(base + '/');
  const field = page.getByLabel('Token', { exact: true });
  await field.waitFor();
  t.equal(await field.getAttribute('type'), 'password', 'the token is asked for in a password field');
  t.equal(await page.getByRole('heading', { name: 'Catalogs' }).count(), 0, 'nothing is shown before it');
  await screenshot(page, 'token-prompt');
  await field.fill('lum_wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: /refused/ }).waitFor();
  t.pass('a wrong token is refused on the page');
  await page.getByLabel('Token', { exact: true }).fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Catalogs' }).waitFor();
  t.pass('the right token opens the page');

  // A catalog created and scanned from the page.
  await page.getByLabel('Name').fill('Holidays');
  await page.getByLabel(/Source folders/).fill(root);
  await page.getByRole('button', { name: 'Create catalog' }).click();
  const card = page.getByRole('region', { name: 'catalog Holidays' });
  await card.waitFor();
  const catalogs = await api(base, 'GET', '/api/catalogs', { token });
  const catalogId = catalogs.json.find((c: { name: string }) => c.name === 'Holidays').id as string;
  await page.locator('.conn[data-connection=live]').waitFor();

  // Every progress value the page shows is recorded, to see it never goes backwards.
  await page.evaluate(`(() => {
    window.__done = [];
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('[data-job] [data-field=done]')) window.__done.push(Number(el.textContent.replace(/,/g, '')));
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  })()`);
  await card.getByRole('button', { name: /^Scan/ }).click();
  const progress = card.locator('.jp');
  await progress.and(page.locator('[data-status=completed]')).waitFor({ timeout: 120_000 });
  const jobId = (await progress.getAttribute('data-job'))!;
  t.equal(await progress.locator('[data-field=done]').textContent(), files.toLocaleString('en'), 'progress reaches every file');
  t.equal(await progress.locator('[data-field=total]').textContent(), files.toLocaleString('en'));
  const job = await jobDone(base, jobId, token);
  t.equal(job.progress.done, files, 'the page shows what the server counted');
  const seen = (await page.evaluate('window.__done')) as number[];
  t.ok(seen.length > 0, `progress seen ${seen.length} times`);
  t.same(seen, [...seen].sort((a, b) => a - b), 'progress never went backwards');
  await screenshot(page, 'catalogs');

  // The jobs page: the scan, once, with its failed file.
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  const row = page.locator(`tr[data-job="${jobId}"]`);
  await row.waitFor();
  await row.getByRole('button', { name: 'Failed files' }).click();
  const failures = row.getByRole('list', { name: 'failed files' });
  await failures.waitFor();
  t.match(await failures.textContent(), /broken\.jpg/, 'the failed file is listed with its error');
  await screenshot(page, 'jobs');

  // The server goes away and comes back: the page reconnects and reads the job state again.
  await server.stop('SIGTERM');
  await page.locator('.conn[data-connection=reconnecting]').waitFor({ timeout: 15_000 });
  const first = server;
  server = await startServe(t, env, serveArgs);
  t.teardown(async () => {
    if (t.passing()) return;
    // What the server itself says of its jobs, to tell a slow job from a lost event.
    const jobs = await api(base, 'GET', '/api/jobs', { token }).then((r) => JSON.stringify(r.json).slice(0, 3000), (e) => String(e));
    t.comment(`first server:\n${first.output().slice(-3000)}\nsecond server (exit ${server.proc.exitCode} ${server.proc.signalCode}):\n${server.output().slice(-3000)}\njobs: ${jobs}\nsockets:\n${sockets.join('\n')}`);
  });
  await page.waitForFunction(`Number(document.querySelector('[data-testid=resyncs]')?.dataset.value) >= 1`, undefined, { timeout: 30_000 });
  t.equal(await page.locator(`tr[data-job="${jobId}"]`).count(), 1, 'the job is listed once after the resync');
  t.equal(await row.getAttribute('data-status'), 'completed');
  t.equal(await row.locator('[data-field=done]').textContent(), files.toLocaleString('en'), 'with its final count');

  // After the reconnect, new events arrive: a duplicates run started from the page completes live.
  // The answer to the POST is held until the socket has brought the job's first event: the page
  // must show the job the same whichever of the two arrives first.
  let heardOfDupes!: () => void;
  const dupesEvent = new Promise<void>((resolve) => (heardOfDupes = resolve));
  onFrame.push((text) => text.includes('"job_type":"duplicates"') && heardOfDupes());
  await page.route('**/api/jobs/duplicates', async (route) => {
    const answer = await route.fetch();
    await Promise.race([dupesEvent, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    await route.fulfill({ response: answer });
  });
  await page.getByRole('link', { name: 'Catalogs' }).click();
  await card.getByRole('button', { name: /^Find duplicates/ }).click();
  // It embeds some 300 pictures on the wasm backend: under a loaded CI host that alone can pass a minute.
  await card.locator('.job', { hasText: 'duplicates' }).locator('.jp[data-status=completed]').waitFor({ timeout: 180_000 });
  t.pass('a job started after the reconnect is followed live');
  await screenshot(page, 'catalogs-duplicates');

  // Browse: a virtualized grid of thumbnails, filters, and the turned picture upright.
  await page.goto(`${base}/catalogs/${catalogId}`);
  const grid = page.getByTestId('grid');
  await page.waitForFunction(`Number(document.querySelector('[data-testid=grid]')?.dataset.total) >= ${files - 1}`, undefined, { timeout: 30_000 });
  const rendered = Number(await grid.getAttribute('data-rendered'));
  t.ok(rendered > 0 && rendered < files - 1, `the grid renders ${rendered} of ${files - 1} cells`);
  await page.waitForFunction(`[...document.querySelectorAll('[data-testid=grid] img')].every((i) => i.complete && i.naturalWidth > 0)`);
  t.pass('every rendered thumbnail has pixels');
  await screenshot(page, 'browse');

  await page.getByLabel('Camera').fill('Fujifilm');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForFunction(`document.querySelector('[data-testid=grid]')?.dataset.total === '1'`);
  const thumb = page.locator('[data-testid=grid] img').first();
  await page.waitForFunction(`document.querySelector('[data-testid=grid] img')?.naturalWidth > 0`);
  const size = await thumb.evaluate((i: Img) => [i.naturalWidth, i.naturalHeight]);
  t.ok(size[1] > size[0], `the EXIF-rotated picture's thumbnail is upright (${size.join('×')})`);
  await thumb.click();
  const view = page.getByRole('complementary', { name: 'asset' });
  await view.locator('.media img').waitFor();
  await page.waitForFunction(`document.querySelector('aside .media img')?.naturalWidth > 0`);
  const full = await view.locator('.media img').evaluate((i: Img) => [i.naturalWidth, i.naturalHeight]);
  t.ok(full[1]! > full[0]!, `and so is the picture itself (${full[0]}×${full[1]})`);
  t.match(await view.textContent(), /400×600/, 'its metadata gives the upright size');
  t.match(await view.textContent(), new RegExp(turned.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'and its path');
  await screenshot(page, 'asset');

  await page.getByLabel('Camera').fill('');
  await page.getByRole('checkbox', { name: 'has error' }).check();
  await page.locator('[data-testid=grid] .tile[title$="broken.jpg"]').waitFor();
  t.equal(await grid.getAttribute('data-total'), '1', 'the error filter finds the broken file alone');

  // Organize: a plan from the page.
  await page.getByRole('link', { name: 'Organize' }).click();
  const dest = path.join(tmpDir(t, 'lumina-web-lib-'), 'library');
  await page.getByLabel('Library folder').fill(dest);
  await page.getByRole('button', { name: /^Plan organize/ }).click();
  const plan = page.locator('section.plan').first();
  await plan.waitFor();
  t.equal(await plan.getByTestId('plan-status').textContent(), 'planned', 'the plan is made');
  const plans = await api(base, 'GET', `/api/catalogs/${catalogId}/organize/plans`, { token });
  t.equal(plans.json.items[0].dest, dest, 'and stored');
  t.notOk(fs.existsSync(dest), 'planning changes no file');
  await plan.getByRole('button', { name: 'Apply' }).click();
  await page.locator('section.plan [data-testid=plan-status]', { hasText: /^applied$/ }).waitFor({ timeout: 60_000 });
  t.ok(fs.readdirSync(dest).length > 0, 'applied from the page, the library is written');
  await screenshot(page, 'organize');

  // Expected in the console: the refused token's 401 and the reconnect attempts while the server was down.
  const problems = page.problems.filter((p) => !/status of 401|ERR_CONNECTION_REFUSED/.test(p));
  t.same(problems, [], 'no script errors on the page');
});
