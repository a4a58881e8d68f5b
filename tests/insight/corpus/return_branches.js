// Returns that branch: a ternary and a guard with calls in them.
export default async function (ctx) {
  const { id, refresh } = ctx.input;
  if (refresh) {
    return id
      ? await fastn.connector.crm.getAccount({ id })
      : await fastn.connector.crm.listAccounts({ limit: 1 });
  }
  return (await fastn.state.get(`account:${id}`)) ?? fastn.connector.crm.getAccount({ id });
}
