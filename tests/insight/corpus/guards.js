export default async function (ctx) {
  const { user, notify } = ctx.input;
  notify && (await fastn.connector.slack.postMessage({ channel: "#signups", text: user.email }));
  const cached = (await fastn.state.get(`user:${user.id}`)) || (await fastn.connector.crm.getUser({ id: user.id }));
  const region = user.region ?? (await fastn.envConfig.get("DEFAULT_REGION"));
  const plain = user.name || "anonymous";
  return { cached, region, plain };
}
