/**
 * The UI used with the keyboard alone, against the real system: every step presses
 * keys and then says where focus must be (never <body>), the focus ring is checked
 * for contrast, and each page state passes axe-core and is photographed. Also what
 * the address bar does (back, forward, not found) and consignment paging.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  assertFocused,
  assertVisibleFocus,
  checkState,
  heading,
  rpc,
  sessionToken,
  startShippy,
  tabTo,
} from './browser.ts';

const shippy = startShippy();
let page: Page;

const user = {
  name: 'Ada Lovelace',
  company: 'Analytical Freight',
  email: 'ada@example.com',
  password: 'correct horse',
};

function nav(name: string) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });
}

function line(index: number) {
  return page.getByRole('group', { name: `Container line ${index}` });
}

test('register with the keyboard: each page change focuses its heading', async () => {
  page = await shippy.context.newPage();
  await page.goto(shippy.base);
  await heading(page, 'Log in').waitFor();
  assert.equal(
    new URL(page.url()).pathname,
    '/login',
    'the address bar shows the page: / redirects to /login',
  );
  await checkState(page, 'login');

  await page.keyboard.press('Tab');
  await assertFocused(page, page.getByRole('link', { name: 'shippy' }), 'the first link, in the header');
  await assertVisibleFocus(page);
  const createAccount = page.getByRole('link', { name: 'Create an account' });
  await tabTo(page, createAccount, 'the Create an account link');
  await assertVisibleFocus(page);
  await page.keyboard.press('Enter');
  await assertFocused(page, heading(page, 'Create an account'), 'the new page’s heading');
  assert.equal(new URL(page.url()).pathname, '/register');
  await checkState(page, 'register');

  for (const [label, value] of [
    ['Name', user.name],
    ['Company', user.company],
    ['Email', user.email],
    ['Password', user.password],
  ] as const) {
    await page.keyboard.press('Tab');
    await assertFocused(page, page.getByLabel(label), `the ${label} field`);
    await page.keyboard.type(value);
  }
  await assertVisibleFocus(page);
  await page.keyboard.press('Enter');
  await heading(page, 'Consignments').waitFor();
  await assertFocused(page, heading(page, 'Consignments'), 'the Consignments heading');
  await page.getByText(`Signed in as ${user.name}`).waitFor();
  assert.equal(new URL(page.url()).pathname, '/consignments');
});

test('add a vessel with the keyboard; focus returns to the form, the fleet shows its room', async () => {
  await tabTo(page, nav('Vessels'), 'the Vessels link', 'Shift+Tab');
  await assertVisibleFocus(page);
  await page.keyboard.press('Enter');
  await assertFocused(page, heading(page, 'Vessels'), 'the Vessels heading');
  assert.equal(new URL(page.url()).pathname, '/vessels');
  await page.getByRole('list', { name: 'Vessels' }).getByText("Kane's Salty Secret").waitFor();

  const name = page.getByLabel('Vessel name');
  await tabTo(page, name, 'the Vessel name field');
  await page.keyboard.type('Boaty McBoatface');
  await page.keyboard.press('Tab');
  await assertFocused(page, page.getByLabel('Capacity (containers)'), 'the capacity field');
  await page.keyboard.type('10');
  await page.keyboard.press('Tab');
  await assertFocused(page, page.getByLabel('Maximum weight (kg)'), 'the maximum weight field');
  await page.keyboard.type('600000');
  await tabTo(page, page.getByRole('button', { name: 'Add vessel' }), 'the Add vessel button');
  await assertVisibleFocus(page);
  await page.keyboard.press('Enter');
  await page
    .getByRole('status')
    .filter({ hasText: 'Vessel “Boaty McBoatface” added to the fleet.' })
    .waitFor();
  await assertFocused(page, name, 'the Vessel name field, ready for the next vessel');
  assert.equal(await name.inputValue(), '');

  const boaty = page
    .getByRole('list', { name: 'Vessels' })
    .getByRole('listitem')
    .filter({ hasText: 'Boaty McBoatface' });
  await boaty.getByText('Carries 10 containers and 600,000 kg').waitFor();
  await boaty.getByText('Booked: 0 containers and 0 kg · Room left: 10 containers and 600,000 kg').waitFor();
  await checkState(page, 'vessels');
});

test('a consignment with container lines and quantities, added and removed with the keyboard', async () => {
  await tabTo(page, nav('Consignments'), 'the Consignments link', 'Shift+Tab');
  await page.keyboard.press('Enter');
  await assertFocused(page, heading(page, 'Consignments'), 'the Consignments heading');
  await page.getByText('No consignments yet.').waitFor();

  await page.keyboard.press('Tab');
  await assertFocused(page, page.getByLabel('Description'), 'the Description field');
  await page.keyboard.type('Pianos for Lisbon');
  await page.keyboard.press('Tab');
  await assertFocused(page, page.getByLabel('Total weight (kg)'), 'the weight field');
  // Heavier than the seeded vessel carries (200,000 kg), so only the new one has room.
  await page.keyboard.type('250000');

  const fillLine = async (index: number, customer: string, origin: string, quantity: string) => {
    await assertFocused(page, line(index).getByLabel('Customer ID'), `line ${index}'s Customer ID`);
    await page.keyboard.type(customer);
    await page.keyboard.press('Tab');
    await assertFocused(page, line(index).getByLabel('Origin'), `line ${index}'s Origin`);
    await page.keyboard.type(origin);
    await page.keyboard.press('Tab');
    await assertFocused(page, line(index).getByLabel('Quantity'), `line ${index}'s Quantity`);
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(quantity);
  };
  const addLine = page.getByRole('button', { name: 'Add container line' });

  await page.keyboard.press('Tab');
  await fillLine(1, 'customer-1', 'Porto', '2');
  await tabTo(page, addLine, 'the Add container line button');
  await page.keyboard.press('Enter');
  await fillLine(2, 'dropped', 'Nowhere', '1');
  await tabTo(page, addLine, 'the Add container line button');
  await page.keyboard.press('Enter');
  await fillLine(3, 'customer-3', 'Rotterdam', '1');

  // Removing a line in the middle: focus goes to the line that took its place.
  await tabTo(
    page,
    page.getByRole('button', { name: 'Remove container line 2' }),
    'Remove container line 2',
    'Shift+Tab',
  );
  await page.keyboard.press('Enter');
  assert.equal(await page.getByRole('group', { name: /^Container line \d$/ }).count(), 2);
  await assertFocused(page, line(2).getByLabel('Customer ID'), 'the Customer ID of the line now second');
  assert.equal(await line(2).getByLabel('Customer ID').inputValue(), 'customer-3');
  // Removing the last line: focus goes to the one before.
  await tabTo(page, addLine, 'the Add container line button');
  await page.keyboard.press('Enter');
  await assertFocused(page, line(3).getByLabel('Customer ID'), 'the new line’s Customer ID');
  await tabTo(page, page.getByRole('button', { name: 'Remove container line 3' }), 'Remove container line 3');
  await page.keyboard.press('Enter');
  await assertFocused(page, line(2).getByLabel('Customer ID'), 'the line before the removed one');
  await checkState(page, 'consignment-form');

  await tabTo(page, page.getByRole('button', { name: 'Book consignment' }), 'the Book consignment button');
  await page.keyboard.press('Enter');
  await page
    .getByRole('status')
    .filter({ hasText: 'Consignment “Pianos for Lisbon” booked: 3 containers, 250,000 kg.' })
    .waitFor();
  await assertFocused(page, page.getByLabel('Description'), 'the Description field, ready for the next one');

  // The quantity became one container each in the request: the service stored three.
  const listed = page
    .getByRole('list', { name: 'Your consignments' })
    .getByRole('listitem')
    .filter({ hasText: 'Pianos for Lisbon' });
  await listed.waitFor();
  assert.equal(await listed.locator('.vessel').textContent(), 'Boaty McBoatface');
  assert.match((await listed.locator('.reference').textContent()) ?? '', /^\S{8,}$/, 'a reference id');
  await listed.getByText('250,000 kg · 3 containers').waitFor();
  assert.deepEqual(
    await listed
      .getByRole('list', { name: 'Containers of Pianos for Lisbon' })
      .getByRole('listitem')
      .allTextContents(),
    ['2 × customer-1 from Porto', 'customer-3 from Rotterdam'],
  );
  await checkState(page, 'consignments');
});

test('the address bar and the page agree: back, forward, not found', async () => {
  await page.goBack();
  await assertFocused(page, heading(page, 'Vessels'), 'the Vessels heading, after Back');
  assert.equal(new URL(page.url()).pathname, '/vessels');
  // The booking used up room on the vessel.
  await page
    .getByRole('listitem')
    .filter({ hasText: 'Boaty McBoatface' })
    .getByText('Booked: 3 containers and 250,000 kg · Room left: 7 containers and 350,000 kg')
    .waitFor();
  await page.goForward();
  await assertFocused(page, heading(page, 'Consignments'), 'the Consignments heading, after Forward');
  assert.equal(new URL(page.url()).pathname, '/consignments');

  await page.goto(`${shippy.base}/no/such/page`);
  await heading(page, 'Page not found').waitFor();
  assert.equal(new URL(page.url()).pathname, '/no/such/page', 'a page that does not exist keeps its address');
  assert.equal(await page.title(), 'Page not found · shippy');
  await checkState(page, 'not-found');
  await page.getByRole('link', { name: 'your consignments' }).click();
  await assertFocused(page, heading(page, 'Consignments'), 'the Consignments heading');
});

test('consignments are listed newest first, a page at a time; Load more focuses what it added', async () => {
  const token = await sessionToken(page);
  const vessel = await rpc(
    shippy.base,
    'vessel',
    'VesselService.Create',
    { name: 'Ever Given', capacity: 100, max_weight: 1_000_000, available: true },
    token,
  );
  assert.equal(vessel.status, 200, JSON.stringify(vessel.body));
  // With the one booked above, 11: one more than a page.
  for (let n = 1; n <= 10; n++) {
    const created = await rpc(
      shippy.base,
      'consignment',
      'ConsignmentService.Create',
      { description: `Crate ${n}`, weight: 1_000, containers: [{ customer_id: 'bulk', origin: 'Antwerp' }] },
      token,
    );
    assert.equal(created.status, 200, JSON.stringify(created.body));
  }
  await page.reload();
  const items = page
    .getByRole('list', { name: 'Your consignments' })
    .getByRole('listitem')
    .filter({ has: page.locator('strong') });
  await items.first().waitFor();
  assert.equal(await items.count(), 10);
  assert.equal(await items.first().locator('strong').textContent(), 'Crate 10', 'newest first');
  await checkState(page, 'consignments-first-page');

  const more = page.getByRole('button', { name: 'Load more consignments' });
  await tabTo(page, more, 'the Load more consignments button');
  await page.keyboard.press('Enter');
  const oldest = items.filter({ hasText: 'Pianos for Lisbon' });
  await oldest.waitFor();
  await assertFocused(page, oldest, 'the first consignment Load more added');
  assert.equal(await items.count(), 11);
  assert.equal(await more.count(), 0, 'no Load more on the last page');
  await checkState(page, 'consignments-all-pages');
});
