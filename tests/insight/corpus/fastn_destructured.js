// The fastn object taken apart: destructured services and a connector kept in a variable.
const { connector, state: kv } = fastn;

export default async function (ctx) {
  const { db } = fastn;
  const crm = connector.hubspot;
  const seen = await kv.get(`contact:${ctx.input.email}`);
  if (seen) return { skipped: true };
  const pending = crm.createContact({ email: ctx.input.email });
  const contact = await pending;
  await db.query("INSERT INTO contacts (id) VALUES ($1)", [contact.id]);
  await kv.set(`contact:${ctx.input.email}`, contact.id);
  return { id: contact.id };
}
