export default async function (ctx) {
  const { email, existingId } = ctx.input;
  const contact = existingId
    ? await fastn.connector.hubspot.updateContact({ id: existingId, email })
    : await fastn.connector.hubspot.createContact({ email });
  const greeting = contact.firstName ? `Hi ${contact.firstName}` : "Hi there";
  return { id: contact.id, greeting };
}
