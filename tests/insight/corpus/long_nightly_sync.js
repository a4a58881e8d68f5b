// A long nightly sync across twelve systems: the performance case (300 lines).
// Each section reads a page of records, skips the ones seen before, writes the rest.
const PAGE_SIZE = 100;

async function audit(event, details) {
  await fastn.db.query("INSERT INTO sync_audit (event, details) VALUES ($1, $2)", [event, details]);
}

export default async function (ctx) {
  const { since, dryRun = false } = ctx.input ?? {};
  const token = await fastn.secrets.get("SYNC_ALERT_TOKEN");
  const region = await fastn.envConfig.get("SYNC_REGION");
  const summary = { region, systems: {} };
  if (!since) {
    throw new Error("input.since is required");
  }

  // ---- shopify
  let shopifyCursor = await fastn.state.get(`cursor:shopify`);
  const shopifyPage = await fastn.connector.shopify.listRecords({ since, cursor: shopifyCursor, limit: PAGE_SIZE });
  let shopifyWritten = 0;
  for (const record of shopifyPage.items ?? []) {
    const seenKey = `seen:shopify:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      shopifyWritten++;
      continue;
    }
    try {
      await fastn.connector.shopify.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      shopifyWritten++;
    } catch (err) {
      console.warn(`shopify ${record.id}: ${err.message}`);
    }
  }
  shopifyCursor = shopifyPage.nextCursor ?? null;
  await fastn.state.set(`cursor:shopify`, shopifyCursor);
  summary.systems.shopify = { written: shopifyWritten, cursor: shopifyCursor };

  // ---- hubspot
  let hubspotCursor = await fastn.state.get(`cursor:hubspot`);
  const hubspotPage = await fastn.connector.hubspot.listRecords({ since, cursor: hubspotCursor, limit: PAGE_SIZE });
  let hubspotWritten = 0;
  for (const record of hubspotPage.items ?? []) {
    const seenKey = `seen:hubspot:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      hubspotWritten++;
      continue;
    }
    try {
      await fastn.connector.hubspot.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      hubspotWritten++;
    } catch (err) {
      console.warn(`hubspot ${record.id}: ${err.message}`);
    }
  }
  hubspotCursor = hubspotPage.nextCursor ?? null;
  await fastn.state.set(`cursor:hubspot`, hubspotCursor);
  summary.systems.hubspot = { written: hubspotWritten, cursor: hubspotCursor };

  // ---- stripe
  let stripeCursor = await fastn.state.get(`cursor:stripe`);
  const stripePage = await fastn.connector.stripe.listRecords({ since, cursor: stripeCursor, limit: PAGE_SIZE });
  let stripeWritten = 0;
  for (const record of stripePage.items ?? []) {
    const seenKey = `seen:stripe:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      stripeWritten++;
      continue;
    }
    try {
      await fastn.connector.stripe.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      stripeWritten++;
    } catch (err) {
      console.warn(`stripe ${record.id}: ${err.message}`);
    }
  }
  stripeCursor = stripePage.nextCursor ?? null;
  await fastn.state.set(`cursor:stripe`, stripeCursor);
  summary.systems.stripe = { written: stripeWritten, cursor: stripeCursor };

  // ---- zendesk
  let zendeskCursor = await fastn.state.get(`cursor:zendesk`);
  const zendeskPage = await fastn.connector.zendesk.listRecords({ since, cursor: zendeskCursor, limit: PAGE_SIZE });
  let zendeskWritten = 0;
  for (const record of zendeskPage.items ?? []) {
    const seenKey = `seen:zendesk:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      zendeskWritten++;
      continue;
    }
    try {
      await fastn.connector.zendesk.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      zendeskWritten++;
    } catch (err) {
      console.warn(`zendesk ${record.id}: ${err.message}`);
    }
  }
  zendeskCursor = zendeskPage.nextCursor ?? null;
  await fastn.state.set(`cursor:zendesk`, zendeskCursor);
  summary.systems.zendesk = { written: zendeskWritten, cursor: zendeskCursor };

  // ---- netsuite
  let netsuiteCursor = await fastn.state.get(`cursor:netsuite`);
  const netsuitePage = await fastn.connector.netsuite.listRecords({ since, cursor: netsuiteCursor, limit: PAGE_SIZE });
  let netsuiteWritten = 0;
  for (const record of netsuitePage.items ?? []) {
    const seenKey = `seen:netsuite:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      netsuiteWritten++;
      continue;
    }
    try {
      await fastn.connector.netsuite.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      netsuiteWritten++;
    } catch (err) {
      console.warn(`netsuite ${record.id}: ${err.message}`);
    }
  }
  netsuiteCursor = netsuitePage.nextCursor ?? null;
  await fastn.state.set(`cursor:netsuite`, netsuiteCursor);
  summary.systems.netsuite = { written: netsuiteWritten, cursor: netsuiteCursor };

  // ---- salesforce
  let salesforceCursor = await fastn.state.get(`cursor:salesforce`);
  const salesforcePage = await fastn.connector.salesforce.listRecords({ since, cursor: salesforceCursor, limit: PAGE_SIZE });
  let salesforceWritten = 0;
  for (const record of salesforcePage.items ?? []) {
    const seenKey = `seen:salesforce:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      salesforceWritten++;
      continue;
    }
    try {
      await fastn.connector.salesforce.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      salesforceWritten++;
    } catch (err) {
      console.warn(`salesforce ${record.id}: ${err.message}`);
    }
  }
  salesforceCursor = salesforcePage.nextCursor ?? null;
  await fastn.state.set(`cursor:salesforce`, salesforceCursor);
  summary.systems.salesforce = { written: salesforceWritten, cursor: salesforceCursor };

  // ---- mailchimp
  let mailchimpCursor = await fastn.state.get(`cursor:mailchimp`);
  const mailchimpPage = await fastn.connector.mailchimp.listRecords({ since, cursor: mailchimpCursor, limit: PAGE_SIZE });
  let mailchimpWritten = 0;
  for (const record of mailchimpPage.items ?? []) {
    const seenKey = `seen:mailchimp:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      mailchimpWritten++;
      continue;
    }
    try {
      await fastn.connector.mailchimp.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      mailchimpWritten++;
    } catch (err) {
      console.warn(`mailchimp ${record.id}: ${err.message}`);
    }
  }
  mailchimpCursor = mailchimpPage.nextCursor ?? null;
  await fastn.state.set(`cursor:mailchimp`, mailchimpCursor);
  summary.systems.mailchimp = { written: mailchimpWritten, cursor: mailchimpCursor };

  // ---- intercom
  let intercomCursor = await fastn.state.get(`cursor:intercom`);
  const intercomPage = await fastn.connector.intercom.listRecords({ since, cursor: intercomCursor, limit: PAGE_SIZE });
  let intercomWritten = 0;
  for (const record of intercomPage.items ?? []) {
    const seenKey = `seen:intercom:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      intercomWritten++;
      continue;
    }
    try {
      await fastn.connector.intercom.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      intercomWritten++;
    } catch (err) {
      console.warn(`intercom ${record.id}: ${err.message}`);
    }
  }
  intercomCursor = intercomPage.nextCursor ?? null;
  await fastn.state.set(`cursor:intercom`, intercomCursor);
  summary.systems.intercom = { written: intercomWritten, cursor: intercomCursor };

  // ---- quickbooks
  let quickbooksCursor = await fastn.state.get(`cursor:quickbooks`);
  const quickbooksPage = await fastn.connector.quickbooks.listRecords({ since, cursor: quickbooksCursor, limit: PAGE_SIZE });
  let quickbooksWritten = 0;
  for (const record of quickbooksPage.items ?? []) {
    const seenKey = `seen:quickbooks:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      quickbooksWritten++;
      continue;
    }
    try {
      await fastn.connector.quickbooks.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      quickbooksWritten++;
    } catch (err) {
      console.warn(`quickbooks ${record.id}: ${err.message}`);
    }
  }
  quickbooksCursor = quickbooksPage.nextCursor ?? null;
  await fastn.state.set(`cursor:quickbooks`, quickbooksCursor);
  summary.systems.quickbooks = { written: quickbooksWritten, cursor: quickbooksCursor };

  // ---- airtable
  let airtableCursor = await fastn.state.get(`cursor:airtable`);
  const airtablePage = await fastn.connector.airtable.listRecords({ since, cursor: airtableCursor, limit: PAGE_SIZE });
  let airtableWritten = 0;
  for (const record of airtablePage.items ?? []) {
    const seenKey = `seen:airtable:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      airtableWritten++;
      continue;
    }
    try {
      await fastn.connector.airtable.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      airtableWritten++;
    } catch (err) {
      console.warn(`airtable ${record.id}: ${err.message}`);
    }
  }
  airtableCursor = airtablePage.nextCursor ?? null;
  await fastn.state.set(`cursor:airtable`, airtableCursor);
  summary.systems.airtable = { written: airtableWritten, cursor: airtableCursor };

  // ---- notion
  let notionCursor = await fastn.state.get(`cursor:notion`);
  const notionPage = await fastn.connector.notion.listRecords({ since, cursor: notionCursor, limit: PAGE_SIZE });
  let notionWritten = 0;
  for (const record of notionPage.items ?? []) {
    const seenKey = `seen:notion:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      notionWritten++;
      continue;
    }
    try {
      await fastn.connector.notion.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      notionWritten++;
    } catch (err) {
      console.warn(`notion ${record.id}: ${err.message}`);
    }
  }
  notionCursor = notionPage.nextCursor ?? null;
  await fastn.state.set(`cursor:notion`, notionCursor);
  summary.systems.notion = { written: notionWritten, cursor: notionCursor };

  // ---- asana
  let asanaCursor = await fastn.state.get(`cursor:asana`);
  const asanaPage = await fastn.connector.asana.listRecords({ since, cursor: asanaCursor, limit: PAGE_SIZE });
  let asanaWritten = 0;
  for (const record of asanaPage.items ?? []) {
    const seenKey = `seen:asana:${record.id}`;
    if (await fastn.state.get(seenKey)) continue;
    if (dryRun) {
      asanaWritten++;
      continue;
    }
    try {
      await fastn.connector.asana.updateRecord({ id: record.id, synced: true });
      await fastn.state.set(seenKey, true, { ttl: 86400 });
      asanaWritten++;
    } catch (err) {
      console.warn(`asana ${record.id}: ${err.message}`);
    }
  }
  asanaCursor = asanaPage.nextCursor ?? null;
  await fastn.state.set(`cursor:asana`, asanaCursor);
  summary.systems.asana = { written: asanaWritten, cursor: asanaCursor };

  await audit("nightly-sync", summary);
  const total = Object.values(summary.systems).reduce((n, s) => n + s.written, 0);
  if (total === 0) {
    return { ...summary, total, note: "nothing to do" };
  }
  await fastn.connector.slack.postMessage({ channel: "#sync", text: `Synced ${total} records`, token });
  return { ...summary, total };
}
