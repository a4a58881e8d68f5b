// Helpers declared in the file are graphed at their first call, once.
const LIMIT = 50;

async function loadContacts(cursor) {
  const page = await fastn.connector.hubspot.listContacts({ after: cursor, limit: LIMIT });
  if (!page.results.length) {
    return [];
  }
  return page.results;
}

const upsert = async (contact) => {
  await fastn.db.query("INSERT INTO contacts (id, email) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
    contact.id,
    contact.email,
  ]);
};

function countdown(n) {
  if (n > 0) return countdown(n - 1);
  return n;
}

export default async function (ctx) {
  const contacts = await loadContacts(ctx.input.cursor);
  for (const contact of contacts) {
    await upsert(contact);
  }
  const again = await loadContacts(null);
  countdown(3);
  return { count: contacts.length + again.length };
}
