export default async function (ctx) {
  const url = "https://api.example.com/items";
  const list = await fastn.connector.http.request({ url });
  const head = await fastn.connector.http.request({ method: "head", url: `${url}/1` });
  const created = await fastn.connector.http.request({ method: "POST", url, body: ctx.input });
  const verb = ctx.input.verb;
  const custom = await fastn.connector.http.request({ method: verb, url });
  await fastn.connector.http.request({ method: "DELETE", url: "http://internal.example/x/1" });
  return { list, head, created, custom };
}
