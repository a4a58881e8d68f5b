// The reference's secrets and configs examples: a partner API call with a token.
export default async function(ctx) {
  const apiToken = await fastn.secrets.get("SHOPIFY_API_TOKEN");
  const base = await fastn.envConfig.get("PARTNER_API_BASE");
  const response = await fastn.connector.http.request({
    method: "POST",
    url: `${base}/orders`,
    headers: { Authorization: `Bearer ${apiToken}` },
    body: ctx.input,
  });
  return { status: response.status };
}
